"""The data the engine produces: execution reports, nodes, and the search report.

Everything here is a plain dataclass so that the CLI (`--json`), the language
server and the benchmarks share one serialisable shape (`to_dict`).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from .contract import ReportWarning


@dataclass
class TestOutcome:
    """One pytest test id as pytest itself reported it (never scraped from text)."""

    nodeid: str
    outcome: str  # "passed" | "failed" | "error" | "skipped"
    message: str = ""  # first lines of the assertion / error, empty when passed
    duration: float = 0.0  # seconds in the call phase

    __test__ = False  # not a pytest test class


@dataclass
class StaticMetrics:
    """Metrics read from the source alone (lizard)."""

    cyclomatic_complexity: int = 0
    nloc: int = 0
    parameter_count: int = 0


@dataclass
class CaptureSummary:
    """The original's calls recorded while its tests ran (the oracle candidates are replayed against)."""

    captured: int = 0  # calls recorded
    usable: int = 0  # of those, the ones the original itself replays identically
    unstable: int = 0  # replayed differently by the original (test state, time, chance): no oracle
    not_captured: dict[str, int] = field(default_factory=dict)  # why -> how many calls were not recorded
    note: str = ""  # why nothing could be captured or replayed, when so
    generated: int = 0  # inputs drawn from the captured calls (generate.py) the original answers alike twice
    generated_skipped: dict[str, int] = field(default_factory=dict)  # why -> how many drawn inputs were left out
    generated_note: str = ""  # why no inputs were drawn, when so

    def describe(self) -> str:
        parts = [f"{self.usable} of {self.captured} captured calls of the original replay identically"]
        if self.unstable:
            parts.append(f"{self.unstable} do not (they depend on a test's setup, time or chance) and are left out")
        for why, count in self.not_captured.items():
            parts.append(f"{count} not captured: {why}")
        if self.note:
            parts.append(self.note)
        if self.generated or self.generated_skipped:
            parts.append(
                f"{self.generated} generated inputs judge"
                + "".join(f", {count} left out ({why})" for why, count in self.generated_skipped.items())
            )
        elif self.generated_note:
            parts.append(self.generated_note)
        return "; ".join(parts)


@dataclass
class CrossCheck:
    """CrossHair's search for an input on which a candidate and the original differ
    (sandbox/symbolic.py), each input it proposed confirmed by running both."""

    seconds: float | None = None  # how long it searched; None: it did not run (see note)
    proposed: int = 0  # inputs it found a difference on
    different: int = 0  # of those, where the two really differ when run
    differences: list[str] = field(default_factory=list)
    counterexamples: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""  # why it did not run, or what it could not use

    def evidence(self) -> str:
        if self.seconds is None or self.different:
            return ""
        return f"CrossHair: no difference in {self.seconds:g} s"


@dataclass
class ScaledCall:
    """One captured call grown (sandbox/scaling.py): each version's time per call at each size."""

    index: int
    sizes: list[int] = field(default_factory=list)
    original_seconds: list[float] = field(default_factory=list)
    candidate_seconds: list[float] = field(default_factory=list)


@dataclass
class Scaling:
    """How both versions' time grows with the size of the arguments."""

    calls: list[ScaledCall] = field(default_factory=list)
    differs: str = ""  # the first growth at which the answers differed ("4x"), said as a warning
    note: str = ""  # why there is no figure

    SLOWER = 1.10  # at the largest size, the candidate this much slower than the original: a warning

    @property
    def measured(self) -> list[ScaledCall]:
        return [call for call in self.calls if len(call.sizes) >= 2 and call.sizes[-1] > call.sizes[0]]

    def exponents(self) -> tuple[float, float] | None:
        """The growth exponents (time ~ size^k) of the original and the candidate: the median
        over the calls of the slope between the two largest sizes, on the logarithms (at the
        tests' small sizes a call's fixed overhead flattens the curve)."""
        slopes = [
            (_slope(call.sizes, call.original_seconds), _slope(call.sizes, call.candidate_seconds)) for call in self.measured
        ]
        fits = [(o, c) for o, c in slopes if o is not None and c is not None]
        if not fits:
            return None
        return statistics.median([o for o, _ in fits]), statistics.median([c for _, c in fits])

    def largest(self) -> tuple[float, float] | None:
        """(how many times the tests' sizes, the candidate's speed-up there): the median over
        the calls, each at the largest size measured."""
        calls = [call for call in self.measured if call.candidate_seconds[-1] > 0]
        if not calls:
            return None
        growth = statistics.median([call.sizes[-1] / max(call.sizes[0], 1) for call in calls])
        return growth, statistics.median([call.original_seconds[-1] / call.candidate_seconds[-1] for call in calls])

    def slower_when_larger(self) -> bool:
        found = self.largest()
        return found is not None and found[1] * self.SLOWER < 1

    def describe(self) -> str:
        """ "original ~n^2.0, candidate ~n^1.0; at 16x the tests' sizes 5.2x faster" """
        exponents, largest = self.exponents(), self.largest()
        if exponents is None or largest is None:
            return self.note or "no growth measured"
        growth, ratio = largest
        at = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"
        text = f"original ~n^{exponents[0]:.1f}, candidate ~n^{exponents[1]:.1f}; at {growth:.0f}x the tests' sizes {at}"
        if self.differs:
            text += f" (the answers differed at {self.differs} the size)"
        return text


def _slope(sizes: list[int], seconds: list[float]) -> float | None:
    points = [(math.log(n), math.log(t)) for n, t in zip(sizes, seconds) if n > 0 and t > 0][-2:]
    if len(points) < 2 or points[1][0] <= points[0][0]:
        return None
    (x0, y0), (x1, y1) = points
    return (y1 - y0) / (x1 - x0)


@dataclass
class PerCallBenchmark:
    """The function itself timed on the captured calls, beside the original (sandbox/benchmark.py)."""

    calls: int = 0
    timed: list[int] = field(default_factory=list)  # which captured calls (all when a round of them fits the time)
    rounds: int = 0
    speedup: float | None = None  # the original's time per call over the candidate's (speedup.py)
    low: float | None = None  # its 95% interval
    high: float | None = None
    original_seconds: list[float] = field(default_factory=list)  # each call's median, seconds
    candidate_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0  # spent timing
    state: str = ""  # what the candidate keeps between calls (a memo): its figure is not per new call
    note: str = ""  # why there is no figure
    slow: list[int] = field(default_factory=list)  # calls too slow for its time: left out of the next ones
    slow_seconds: list[float] = field(default_factory=list)  # the original's time on each of `slow`, one call
    # How the candidate answered differently from the original while timed (or tampered): refused.
    different: str = ""
    # Checked from outside (the kernel's count): a run of each version alone, `passes` times over the calls.
    passes: int = 0
    alone_cpu: tuple[float | None, float | None] = (None, None)  # original's run, candidate's run
    alone_wall: tuple[float | None, float | None] = (None, None)
    alone_note: str = ""  # why a run alone gave no figure (how it stopped, or its harness's note)
    # The calls too slow to time per call (not in `timed`), timed beside the original twice per
    # version: which, and each version's seconds on them in all (wall, CPU; the mean of its two
    # timings); empty / None where not timed.
    heavy: list[int] = field(default_factory=list)
    heavy_original: tuple[float, float] | None = None
    heavy_candidate: tuple[float, float] | None = None
    heavy_note: str = ""  # why they were not timed
    scaling: Scaling | None = None  # both versions on grown calls (the final pick's benchmark only)
    # Close calls: instructions per pass over the timed calls, counted from outside (valgrind),
    # the harness's own count subtracted; original's, candidate's.
    instructions: tuple[float, float] | None = None
    instruction_counter: str = ""
    instruction_note: str = ""  # why the count was not taken

    def instruction_ratio(self) -> float | None:
        """The original's instructions per call over the candidate's."""
        if self.instructions is None or self.instructions[0] <= 0:
            return None
        return self.instructions[0] / max(self.instructions[1], 1.0)

    def untimed(self) -> list[int]:
        """The captured calls left out as too slow to time per call."""
        return sorted(set(self.slow) - set(self.timed))

    def heavy_ratio(self) -> float | None:
        """The original's time over the candidate's on the heavy calls: by wall
        time, or by CPU time where that says less (a load on the machine stretches wall time)."""
        if self.heavy_original is None or self.heavy_candidate is None:
            return None
        ratios = [before / after for before, after in zip(self.heavy_original, self.heavy_candidate) if before > 0 and after > 0]
        cpu_bound = self.heavy_original[1] >= 0.8 * self.heavy_original[0]
        return None if not ratios else (min(ratios) if cpu_bound else ratios[0])

    @property
    def median_call_seconds(self) -> float | None:
        """The original's typical call (the median of its per-call medians)."""
        ordered = sorted(self.original_seconds)
        return ordered[len(ordered) // 2] if ordered else None

    def describe(self, heavy_first: bool = False) -> str:
        """ "3.10x faster per call (95% CI 2.90-3.30x) over 41 calls" or why there is no figure;
        the heavy calls' figure after it, or (`heavy_first`: they are what the offer
        rests on) before it."""
        if self.speedup is None or self.low is None or self.high is None:
            return self.note or "no per-call figure"
        ratio = f"{self.speedup:.2f}x" if self.speedup >= 1 else f"{1 / self.speedup:.2f}x slower"
        how = "faster per call" if self.speedup >= 1 else "per call"
        calls = f"{self.calls} call{'s' if self.calls != 1 else ''}"
        text = f"{ratio} {how} (95% CI {self.low:.2f}-{self.high:.2f}x) over {calls}"
        counted = self.instruction_ratio()
        if counted is not None:
            fewer = f"{counted:.2f}x fewer" if counted >= 1 else f"{1 / counted:.2f}x more"
            text += f", {fewer} instructions per call ({self.instruction_counter}, the harness's own subtracted)"
        heavy = self.heavy_ratio()
        if heavy is not None and self.heavy_original is not None and self.heavy_candidate is not None:
            n = len(self.heavy)
            times = f"{_duration(self.heavy_original[0])} -> {_duration(self.heavy_candidate[0])}"
            speed = f"{heavy:.2f}x faster" if heavy >= 1 else f"{1 / heavy:.2f}x slower"
            calls_once = f"the {n} call{'s' if n != 1 else ''} too slow to time per call"
            if heavy_first:
                return f"{speed} on {calls_once}, timed beside the original ({times}); on the others {text}"
            return f"{text}; on {calls_once}, timed beside the original: {times} ({speed})"
        untimed = len(self.untimed())
        if untimed:  # said, so that a figure over the quick calls is not read as the heavy ones'
            why = f": {self.heavy_note}" if self.heavy_note else " in the time given"
            text += f" ({untimed} more too slow to time per call{why})"
        return text

    def feedback(self) -> str:
        """What the model is told of it."""
        if self.different:
            return f"answered differently from the original: {self.different}"
        if self.state:
            return f"{self.describe()}, but it keeps state between calls ({self.state}): not a real speed-up"
        return self.describe()


@dataclass
class BehaviourCheck:
    """A candidate replayed on the original's captured calls."""

    compared: int = 0
    identical: int = 0
    differences: list[str] = field(default_factory=list)  # the first few, as counterexamples
    # The same calls as data, where the difference is in what the call gave (returned or
    # raised): {"call": "f([2])", "expected": ["returned", <canonical>] | ["raised", type, message]}.
    counterexamples: list[dict[str, Any]] = field(default_factory=list)
    different: int = 0
    # The same for the generated inputs (drawn from the captured calls).
    generated_compared: int = 0
    generated_identical: int = 0
    generated_different: int = 0
    not_compared: int = 0  # the replay's time ran out, or could not run
    note: str = ""
    cross_check: CrossCheck | None = None  # CrossHair, on the candidate about to be offered

    @property
    def differs(self) -> bool:
        return bool(self.different or self.generated_different or (self.cross_check and self.cross_check.different))

    def evidence(self) -> str:
        """What the comparison showed, for an offer's one-line verdict ("" when nothing was compared)."""
        parts = [f"{self.identical} captured calls identical"] if self.compared else []
        if self.generated_compared:
            parts.append(f"{self.generated_identical} generated inputs identical")
        text = ", ".join(parts)
        cross = self.cross_check.evidence() if self.cross_check else ""
        if cross:
            text = f"{text} ({cross})" if text else cross
        return text

    def add_cross_check(self, check: CrossCheck) -> None:
        """CrossHair's finding joins the rest: its counterexamples first (the sharpest)."""
        self.cross_check = check
        self.differences[:0] = check.differences
        self.counterexamples[:0] = check.counterexamples

    def describe(self) -> str:
        if self.differs:
            where = []
            if self.different:
                where.append(f"{self.different} of {self.compared} captured calls")
            if self.generated_different:
                where.append(f"{self.generated_different} of {self.generated_compared} generated inputs")
            if self.cross_check and self.cross_check.different:
                where.append("an input CrossHair found")
            return f"behaves differently from the original on {' and '.join(where)}: {self.differences[0]}"
        text = (self.evidence() or "nothing compared") + " to the original"
        if self.not_compared:
            text += f" ({self.not_compared} not compared{': ' + self.note if self.note else ''})"
        return text


@dataclass
class LineCost:
    """One line of the original's function under the line profiler (sandbox/line_profile.py)."""

    line: int  # within the function: 1 is its first line (a decorator or the def)
    text: str
    hits: int
    seconds: float


@dataclass
class LineProfile:
    """Where the original spends its time on the captured calls, line by line."""

    lines: list[LineCost] = field(default_factory=list)
    passes: int = 0  # over all the calls
    note: str = ""  # why there is none

    HOT_SHARE = 0.05  # lines below this share of the time are not worth a model's attention

    def hot(self, count: int = 3) -> list[str]:
        """The few lines that take most of the time: "line 5 `if x not in out`: 91% of the time"."""
        total = sum(cost.seconds for cost in self.lines)
        if total <= 0:
            return []
        ranked = sorted(self.lines, key=lambda cost: cost.seconds, reverse=True)[:count]
        return [
            f"line {cost.line} `{cost.text}`: {cost.seconds / total:.0%} of the time ({cost.hits:,} runs)"
            for cost in ranked
            if cost.seconds / total >= self.HOT_SHARE
        ]


@dataclass
class ExecutionReport:
    """What running one candidate against the user's tests showed.

    `wall_time` and `cpu_time` are the sums of the tests' call phases (the time
    spent in the user's tests, not pytest's start-up); with repeats, the best.
    """

    tests: list[TestOutcome] = field(default_factory=list)
    passed: int = 0
    failed: int = 0  # failed + error
    skipped: int = 0  # skipped while running (pytest.skip, importorskip); counted in total, never as failed
    total: int = 0  # the tests that count: all but those skipped by a mark (skip, skipif, xfail)
    wall_time: float | None = None
    cpu_time: float | None = None
    wall_times: list[float] = field(default_factory=list)  # one per timed run (wall_time is the least)
    cpu_times: list[float] = field(default_factory=list)
    # Measured outside the test process, where the candidate cannot reach: the CPU time the
    # kernel counted for the run (its cgroup where there is one, else the process and the
    # children it waited for) and the run's length as the executor saw it; one per run.
    outside_cpu_times: list[float] = field(default_factory=list)
    outside_wall_times: list[float] = field(default_factory=list)
    instructions: int | None = None
    instruction_counter: str = "none"  # "perf" | "valgrind" | "none"
    peak_rss_kb: int | None = None
    coverage: float | None = None  # ratio of the function's lines run by the tests
    static: StaticMetrics = field(default_factory=StaticMetrics)
    timed_out: bool = False
    error: str = ""  # short, true reason when the run did not complete normally
    start_error: str = ""  # the tests did not start as they should (collection, usage, nothing ran, another module)
    output_tail: str = ""  # last lines of the candidate's stdout/stderr
    runs: int = 0  # how many timed repeats went into wall_time/cpu_time
    capture: CaptureSummary | None = None  # the original's: its calls recorded as the oracle
    behaviour: BehaviourCheck | None = None  # a candidate's: replayed on those calls
    # Solve: exception type -> the shortest generated input it was raised on (no original to compare with).
    generated_raises: dict[str, str] = field(default_factory=dict)
    per_call: PerCallBenchmark | None = None  # the function alone, timed beside the original
    line_profile: LineProfile | None = None  # the original's: where its time goes on the captured calls

    @property
    def behaves_differently(self) -> bool:
        return bool(self.behaviour and self.behaviour.differs)

    @property
    def pass_ratio(self) -> float:
        """Passed over the tests that ran (a test that skipped itself judged nothing)."""
        ran = self.total - self.skipped
        return self.passed / ran if ran > 0 else 0.0

    def add_run(self, again: ExecutionReport) -> None:
        """Fold the timings of a repeat run of the same code into this report: every run's
        times are kept, the best of them stand for it."""
        self.wall_times += again.wall_times
        self.cpu_times += again.cpu_times
        self.outside_cpu_times += again.outside_cpu_times
        self.outside_wall_times += again.outside_wall_times
        self.wall_time = min(self.wall_times) if self.wall_times else self.wall_time
        self.cpu_time = min(self.cpu_times) if self.cpu_times else self.cpu_time
        if again.peak_rss_kb is not None and self.peak_rss_kb is not None:
            self.peak_rss_kb = min(self.peak_rss_kb, again.peak_rss_kb)
        self.runs += again.runs

    def passed_ids(self) -> set[str]:
        return {t.nodeid for t in self.tests if t.outcome == "passed"}

    def summary(self) -> str:
        """A few plain lines for prompts and logs."""
        lines = [f"tests: {self.passed}/{self.total} passed" + (f", {self.skipped} skipped" if self.skipped else "")]
        if self.error:
            lines.append(f"error: {self.error}")
        if self.timed_out:
            lines.append("timed out")
        for t in self.tests:
            if t.outcome != "passed":
                msg = t.message.strip().splitlines()[:3]
                lines.append(f"  {t.outcome.upper()} {t.nodeid}: {' / '.join(msg)}"[:300])
        if self.wall_time is not None:
            lines.append(f"time in tests: {self.wall_time * 1000:.2f} ms (cpu {1000 * (self.cpu_time or 0):.2f} ms)")
        if self.per_call is not None:
            lines.append(f"timed per call beside the original: {self.per_call.feedback()}")
        if self.instructions is not None:
            lines.append(f"instructions ({self.instruction_counter}): {self.instructions:,}")
        if self.peak_rss_kb is not None:
            lines.append(f"peak memory: {self.peak_rss_kb / 1024:.1f} MiB")
        lines.append(f"cyclomatic complexity: {self.static.cyclomatic_complexity}, NLOC: {self.static.nloc}")
        if self.coverage is not None:
            lines.append(f"line coverage of the function: {self.coverage:.0%}")
        if self.behaviour is not None and (self.behaviour.compared or self.behaviour.note):
            lines.append(f"behaviour: {self.behaviour.describe()}")
        return "\n".join(lines)


@dataclass
class Critique:
    text: str = ""
    score: int | None = None  # 1..5 as the critic wrote it; None when unparseable
    done: bool = False  # the critic judged the code finished
    raw: str = ""

    @property
    def process_score(self) -> float:
        """Critic score mapped to [0, 1]; a missing score is the lowest."""
        if self.score is None:
            return 0.0
        return (min(max(self.score, 1), 5) - 1) / 4


@dataclass
class Scores:
    process: float = 0.0
    outcome: float = 0.0
    pass_ratio: float = 0.0
    efficiency: float = 1.0
    step: float = 0.0
    alpha: float = 0.5
    beta: float = 0.5


@dataclass
class Node:
    id: int
    parent: int | None
    depth: int
    strategy: str = ""
    reasoning: str = ""
    code: str = ""  # the candidate function (with any imports/helpers it needs)
    valid: bool = False
    invalid_reason: str = ""
    execution: ExecutionReport | None = None
    critique: Critique | None = None
    scores: Scores = field(default_factory=Scores)
    llm_calls: int = 0
    generated_tokens: int = 0


@dataclass
class SearchStats:
    llm_calls: int = 0
    prompt_tokens_sent: int = 0
    prompt_tokens_evaluated: int = 0
    generated_tokens: int = 0
    generation_seconds: float = 0.0
    prompt_seconds: float = 0.0
    evaluation_seconds: float = 0.0
    # evaluation_seconds by what it was spent on (search_lab.MEASURES): where measuring's cost goes.
    evaluation_breakdown: dict[str, float] = field(default_factory=dict)
    candidates_executed: int = 0
    wall_seconds: float = 0.0
    stopped_by: str = ""  # "depth" | "done" | "budget:calls" | "budget:tokens" | "budget:seconds" | "cancelled"


@dataclass
class SearchReport:
    mode: str  # "optimize" | "solve"
    file: str
    function: str
    model: str
    original_code: str
    original: ExecutionReport
    nodes: list[Node] = field(default_factory=list)
    best_id: int | None = None  # None: nothing offered
    improved: bool = False
    partial: bool = False  # a solve that passes some but not all tests: offered for review, never applied unasked
    new_source: str | None = None  # the whole file with the winner in place
    verdict: str = ""  # one line a person reads
    warnings: list[ReportWarning] = field(default_factory=list)
    tests: dict[str, str] = field(default_factory=dict)  # the chosen test files, and why each was chosen
    missing_test: str = ""  # a pytest test the original passes and a refused candidate failed (regression.py)
    missing_test_file: str = ""  # where the editor's "Add regression test" puts it (absolute; "" when none)
    config: dict[str, Any] = field(default_factory=dict)
    stats: SearchStats = field(default_factory=SearchStats)
    sandbox: str = ""  # the isolation layer and the guards every run of the search had ("" without tests)

    @property
    def best(self) -> Node | None:
        if self.best_id is None:
            return None
        return next(n for n in self.nodes if n.id == self.best_id)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _duration(seconds: float) -> str:
    """ "2.99 s", or "2.1 ms" below a tenth of a second (where two decimals of seconds read 0.00)."""
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.2g} ms"
