"""The search's sandbox side: each candidate put in place in the module, run against the
user's tests, timed beside the original and checked, with every second it costs counted.
It is the `final_pick.Lab` the final pick measures its finalists through."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .budget import Budget
from .cancel import CancelToken
from .config import SCALING_SHARE, SearchConfig
from .executor import Executor
from .extract import Candidate, behaviour_fingerprint, code_fingerprint
from .report import CrossCheck, ExecutionReport, Node, PerCallBenchmark, SearchStats
from .scoring import passes_guard
from .search_task import SearchTask
from .source import replace_function

# Of the configured benchmark time, what each candidate's feedback benchmark gets (the
# final pick's gets all of it): enough rounds for an interval, a small share of a step.
FEEDBACK_BENCHMARK_SHARE = 0.25

# What evaluating is spent on (SearchStats.evaluation_breakdown's keys): the runs of the tests,
# each candidate's short per-call benchmark, the original's line profile, the finalists' full
# benchmarks (grown calls included), the calls too slow for those timed side by side, the runs
# alone, a close call's instruction counts, CrossHair.
MEASURES = (
    "test runs",
    "feedback benchmarks",
    "line profile",
    "final benchmarks",
    "heavy calls",
    "runs alone",
    "instruction counts",
    "CrossHair",
)


class SearchLab:
    def __init__(
        self,
        task: SearchTask,
        executor: Executor | None,
        config: SearchConfig,
        stats: SearchStats,
        budget: Budget,
        cancel: CancelToken,
    ) -> None:
        self.task = task
        self.executor = executor
        self.config = config
        self.stats = stats
        self.budget = budget
        self.cancel = cancel
        self.baseline: ExecutionReport | None = None  # the original's report, once it has run
        self.candidates: dict[int, Candidate] = {}  # node id -> parsed candidate
        self._executed: dict[str, ExecutionReport] = {}  # module fingerprint -> its run

    # ------------------------------------------------- what the final pick reads (final_pick.Lab)
    @property
    def mode(self) -> str:
        return self.task.mode

    @property
    def original_source(self) -> str:
        return self.task.source

    @property
    def verified(self) -> bool:
        return self.executor is not None

    @property
    def original(self) -> ExecutionReport:
        assert self.baseline is not None, "the original runs before anything is measured against it"
        return self.baseline

    def seconds_left(self) -> float:
        return self.budget.seconds_left()

    def seconds_per_run(self) -> float:
        return self.budget.seconds_per_run()

    @property
    def _sandbox(self) -> Executor:
        # Only a search with tests measures anything (the callers check `verified` or no_tests).
        assert self.executor is not None, "measured without an executor"
        return self.executor

    # ------------------------------------------------------------ placing a candidate
    def module_for(self, node: Node) -> str:
        candidate = self.candidates[node.id]
        return replace_function(
            self.task.source, self.task.function.qualname, candidate.imports, candidate.definitions, candidate.module_definitions
        )

    def is_the_original(self, node: Node) -> bool:
        """The original's own code once comments and docstrings are set aside (never offered)."""
        try:
            return behaviour_fingerprint(self.module_for(node)) == behaviour_fingerprint(self.task.source)
        except Exception:  # noqa: BLE001 - a candidate that cannot be placed is no copy
            return False

    # ------------------------------------------------------------------- measuring
    @contextmanager
    def _measuring(self, what: str) -> Iterator[None]:
        """Time spent evaluating, counted in the total and under `what` (one of MEASURES)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.stats.evaluation_seconds += elapsed
            breakdown = self.stats.evaluation_breakdown
            breakdown[what] = breakdown.get(what, 0.0) + elapsed

    def timed_run(self, source: str, **options: Any) -> ExecutionReport:
        started = time.perf_counter()
        with self._measuring("test runs"):
            report = self._sandbox.run(source, **options)
        self.budget.count_runs(
            time.perf_counter() - started, 1 + max(0, options.get("repeats", 1) - 1) + bool(options.get("measure_coverage"))
        )
        return report

    def cross_check(self, node: Node) -> CrossCheck | None:
        """The executor's extra oracle (CrossHair) on a candidate about to be offered, in the
        time left (three more runs of the tests besides its own search)."""
        with self._measuring("CrossHair"):
            return self._sandbox.cross_check(self.module_for(node), seconds_left=self.seconds_left() - 3 * self.seconds_per_run())

    def benchmark(self, node: Node, share: float = 1.0, scaling: bool = False) -> PerCallBenchmark | None:
        """The node's function timed beside the original's on the captured calls (None: no calls),
        for `share` of the configured time; then on grown calls when `scaling` (and not off)."""
        grow = SCALING_SHARE * self.config.benchmark_seconds if scaling and self.config.scaling != "off" else 0.0
        with self._measuring("final benchmarks" if scaling else "feedback benchmarks"):
            return self._sandbox.benchmark(self.module_for(node), seconds=share * self.config.benchmark_seconds, scaling=grow)

    def time_heavy_calls(self, node: Node, bench: PerCallBenchmark) -> None:
        """Its function beside the original's on the calls too slow to time per call."""
        with self._measuring("heavy calls"):
            self._sandbox.time_heavy_calls(self.module_for(node), bench)

    def confirm_benchmark(self, node: Node, bench: PerCallBenchmark, *, heavy_only: bool = False) -> None:
        """Its per-call figure checked from outside: each version run alone (two runs)."""
        with self._measuring("runs alone"):
            self._sandbox.confirm_benchmark(self.module_for(node), bench, heavy_only=heavy_only)

    def count_instructions_per_call(self, node: Node, bench: PerCallBenchmark) -> None:
        """A close call's instructions, counted from outside (three runs under the counter)."""
        with self._measuring("instruction counts"):
            self._sandbox.count_instructions_per_call(self.module_for(node), bench)

    # ------------------------------------------------------------ the search's runs
    def run_original(self) -> ExecutionReport:
        """The original against the tests (coverage measured; optimising, timed and line-profiled)."""
        if self.executor is None or self.config.no_tests:
            self.baseline = ExecutionReport(error="not run (no tests)")
            return self.baseline
        repeats = 1 if self.task.mode == "solve" else max(1, self.config.timing_repeats // 2)
        report = self.timed_run(self.task.source, repeats=repeats, measure_coverage=True)
        if self.task.mode == "optimize" and report.passed:
            with self._measuring("line profile"):
                report.line_profile = self.executor.line_profile(seconds=FEEDBACK_BENCHMARK_SHARE * self.config.benchmark_seconds)
        self.baseline = report
        return report

    def execute(self, node: Node) -> None:
        """The node's module against the tests (once per distinct module), into node.execution."""
        if not node.valid or self.executor is None or self.config.no_tests:
            return
        self.cancel.raise_if_cancelled()
        try:
            module = self.module_for(node)
        except Exception as exc:  # the candidate cannot be put in place
            node.valid, node.invalid_reason = False, f"cannot be placed in the module: {exc}"
            return
        key = code_fingerprint(module)
        if key not in self._executed:
            self._executed[key] = self.timed_run(module, repeats=1)
            self.stats.candidates_executed += 1
            self._time_per_call(node, self._executed[key])
        node.execution = self._executed[key]

    def _time_per_call(self, node: Node, report: ExecutionReport) -> None:
        """A short per-call benchmark of a candidate that keeps every test and behaves like the
        original: its speed-up per call goes into its feedback and its efficiency score (a whole
        test run's time is mostly pytest's). The final pick times its finalists again, in full."""
        if (
            self.task.mode != "optimize"
            or self.baseline is None
            or not passes_guard(self.baseline, report)
            or report.behaves_differently
        ):
            return
        report.per_call = self.benchmark(node, share=FEEDBACK_BENCHMARK_SHARE)
