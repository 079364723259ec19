"""Measuring a candidate beyond its first run: repeats that keep its best time, the coverage of
the function's body, the instructions its tests execute, and the time limits scaled to the
original's own test times.

The runs themselves come from a `Launch` (the runner's): this module only decides which runs
to make and what their figures mean.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..executor import SandboxLimits
from ..report import ExecutionReport
from . import instructions
from .launch import Mode
from .metrics import function_line_range
from .untrusted import is_regular
from .verdict import Run


class Launch(Protocol):
    """Runner.launch as this module calls it."""

    def __call__(self, source: str, mode: Mode, *, collect_only: bool = False) -> Run: ...


def repeat(
    launch: Launch,
    report_of: Callable[[Run], ExecutionReport],
    source: str,
    report: ExecutionReport,
    repeats: int,
) -> ExecutionReport:
    """Re-run a fully passing candidate to keep its best time; a failing repeat wins."""
    if repeats <= 1 or report.error or report.passed == 0 or report.failed:
        return report
    for _ in range(repeats - 1):
        again = launch(source, Mode.PLAIN)
        again_report = report_of(again)
        same_tests = {t.nodeid for t in again_report.tests} == {t.nodeid for t in report.tests}
        if again_report.error or again_report.failed or again_report.passed != report.passed or not same_tests:
            again_report.error = again_report.error or "flaky: passed once, then failed on a repeat"
            return again_report
        report.add_run(again_report)
    return report


def adapted_time_limits(original: ExecutionReport, limits: SandboxLimits) -> tuple[float, float] | None:
    """The (per-test, total) timeouts scaled to the original's own test times; None when the
    original's run says nothing about them (it failed, or ran no test).

    Small models often write endless loops; waiting the configured 10 s on
    each test of each such candidate would dominate the search. A candidate
    may still be 20x slower per test than the original (plus a second)
    before it is cut off. The configured limits stay the ceiling.
    """
    if original.error or not original.tests or original.passed == 0:
        return None
    slowest = max(t.duration for t in original.tests)
    overall = sum(t.duration for t in original.tests)
    per_test = min(limits.per_test_timeout, max(2.0, 20 * slowest + 1.0))
    total = min(limits.total_timeout, max(15.0, 5 * overall + 15.0))
    return per_test, total


def function_coverage(data_path: Path, module_path: Path, source: str, function: str) -> float | None:
    """The share of the function body's executable lines that a coverage run ran; None when
    it cannot be told (no data, or data the candidate spoiled)."""
    import coverage  # only the coverage runs need it

    if not is_regular(data_path):  # a FIFO or a directory the candidate left: not measured
        return None
    try:
        first, last = function_line_range(source, function)
        measured = coverage.Coverage(data_file=str(data_path), config_file=False)
        measured.load()
        _, statements, _, missing, _ = measured.analysis2(str(module_path))
    except (LookupError, SyntaxError, coverage.CoverageException, OSError):
        return None
    body = {line for line in statements if first <= line <= last}
    if not body:
        return None
    return 1.0 - len(body & set(missing)) / len(body)


class InstructionCounts:
    """Instructions a candidate's test session executes beyond a collect-only run of the
    original: pytest's start-up and collection (hundreds of millions) would otherwise drown
    the difference between candidates. The baseline is counted once per counter."""

    def __init__(self, launch: Launch, original_source: str) -> None:
        self._launch = launch
        self._original_source = original_source
        self._baselines: dict[str, int | None] = {}

    def count(self, source: str) -> tuple[int | None, str]:
        """(instructions, the counter that counted them: "perf", "valgrind" or "none")."""
        counter = instructions.available_counter()
        if counter == "none":
            return None, "none"
        measured = self._launch(source, Mode.COUNT).measurement
        if measured is None:
            return None, "none"
        baseline = self._baseline(counter)
        count = int(measured) - baseline if baseline is not None else int(measured)
        return max(count, 0), counter

    def _baseline(self, counter: str) -> int | None:
        if counter not in self._baselines:
            run = self._launch(self._original_source, Mode.COUNT, collect_only=True)
            self._baselines[counter] = int(run.measurement) if run.measurement is not None else None
        return self._baselines[counter]
