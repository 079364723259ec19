"""What a search is asked (`SearchTask`) and what it tells its caller while it runs
(`Progress`), and the one error that ends it before it starts (`OriginalDidNotRun`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .source import FunctionInfo


@dataclass
class SearchTask:
    mode: str  # "optimize" | "solve"
    file: str  # for reports
    source: str  # the module's text as the search starts
    function: FunctionInfo
    tests_source: str = ""  # the selected tests' source, shown to the model
    tests_chosen: dict[str, str] = field(default_factory=dict)  # test file -> why it judges the function


@dataclass
class Progress:
    phase: str  # "baseline" | "generate" | "execute" | "critique" | "measure" | "done"
    round: int
    rounds: int
    candidate: int  # candidates generated so far
    candidates: int  # candidates planned
    best_passed: int | None
    best_total: int | None
    best_speedup: float | None
    fraction: float  # 0..1 of the budget of LLM calls

    def message(self) -> str:
        parts = [f"round {self.round + 1}/{self.rounds}", f"candidate {self.candidate}/{self.candidates}"]
        if self.best_total:
            best = f"best: {self.best_passed}/{self.best_total} tests"
            if self.best_speedup:
                best += (
                    f", {self.best_speedup:.1f}x faster" if self.best_speedup >= 1 else f", {1 / self.best_speedup:.1f}x slower"
                )
            parts.append(best)
        labels = {
            "baseline": "running the original",
            "execute": "running tests",
            "critique": "reviewing",
            "measure": "re-measuring finalists",
        }
        if self.phase in labels:
            parts.append(labels[self.phase])
        return " - ".join(parts)


ProgressCallback = Callable[[Progress], None]


class OriginalDidNotRun(Exception):
    """The original's own test run did not start as it should: nothing can be judged."""

    def __init__(self, reason: str, output_tail: str) -> None:
        super().__init__(reason)
        self.reason, self.output_tail = reason, output_tail
