"""A scripted executor: test outcomes decided by a function of the module source."""

from __future__ import annotations

from collections.abc import Callable

from orps_lsp.report import ExecutionReport, StaticMetrics, TestOutcome


def report(passed: int, total: int, cpu: float, *, rss: int = 10_000, cc: int = 3) -> ExecutionReport:
    tests = [
        TestOutcome(f"t.py::test_{i}", "passed" if i < passed else "failed", "" if i < passed else "assert 1 == 2")
        for i in range(total)
    ]
    return ExecutionReport(
        tests=tests,
        passed=passed,
        failed=total - passed,
        total=total,
        wall_time=cpu,
        cpu_time=cpu,
        wall_times=[cpu],
        cpu_times=[cpu],
        peak_rss_kb=rss,
        static=StaticMetrics(cyclomatic_complexity=cc, nloc=5),
        coverage=1.0,
        runs=1,
    )


class ScriptedExecutor:
    def __init__(self, judge: Callable[[str], ExecutionReport]) -> None:
        self.judge = judge
        self.runs: list[dict] = []

    def run(
        self, module_source: str, *, repeats: int = 1, count_instructions: bool = False, measure_coverage: bool = False
    ) -> ExecutionReport:
        self.runs.append({"source": module_source, "repeats": repeats, "count_instructions": count_instructions})
        return self.judge(module_source)

    def cross_check(self, module_source: str, *, seconds_left: float = float("inf")) -> None:
        return None

    def benchmark(self, module_source: str, *, seconds: float, scaling: float = 0.0) -> None:
        return None  # no captured calls: the tests' run times judge

    def time_heavy_calls(self, module_source: str, bench: object) -> None:
        return None

    def confirm_benchmark(self, module_source: str, bench: object, *, heavy_only: bool = False) -> None:
        return None

    def line_profile(self, *, seconds: float) -> None:
        return None

    def count_instructions_per_call(self, module_source: str, bench: object) -> None:
        return None

    def close(self) -> None:
        pass
