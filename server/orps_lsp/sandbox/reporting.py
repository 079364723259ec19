"""Turning what a run left into the ExecutionReport the search reads: the outcome of each test
the original collects, the run's verdict, its times, and the report of a candidate refused
before it ran (a syntax error, or code it adds at import).

Nothing here starts a process: the extra runs that measure a candidate (repeats, coverage,
instructions) are measuring.py's.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from ..executor import SandboxLimits
from ..import_time import added_import_time_code
from ..report import ExecutionReport, TestOutcome
from .redact import redact
from .results import build_outcomes, call_times, excused_skips
from .verdict import Run, explain, interrupted_message, not_run_message, start_problem


def build_report(run: Run, reference_ids: list[str] | None, secrets: Iterable[str], limits: SandboxLimits) -> ExecutionReport:
    """The report of one run: an outcome for each test it or the original collected (one
    without a trustworthy result is an error), and no secret of the environment in its text."""
    report = ExecutionReport(
        tests=build_outcomes(
            run.records,
            reference_ids,
            interrupted_test=run.interrupted_test,
            interrupted_message=interrupted_message(run),
            timeout_message=f"timed out after {run.per_test_timeout:g} s (per-test limit)",
            not_run_message=not_run_message(run),
        ),
        peak_rss_kb=run.peak_rss_kb,
        output_tail=run.output_tail,
    )
    for outcome in report.tests:
        outcome.message = redact(outcome.message, secrets)
    report.error, report.timed_out = explain(run, report, limits)
    report.error = redact(report.error, secrets)
    report.start_error = redact(start_problem(run, report), secrets)
    tally(report, excused_skips(run.records))
    if run.records.tests:
        report.wall_time, report.cpu_time = call_times(run.records)
        report.wall_times, report.cpu_times = [report.wall_time], [report.cpu_time]
        report.runs = 1
        if run.outside_cpu is not None and run.outside_wall is not None:
            report.outside_cpu_times, report.outside_wall_times = [run.outside_cpu], [run.outside_wall]
    return report


def refusal_report(error: str, reference_ids: list[str] | None) -> ExecutionReport:
    """The report of a candidate that was not run: each of the original's tests fails with the reason."""
    report = ExecutionReport(
        tests=[TestOutcome(nodeid, "error", error) for nodeid in reference_ids or []],
        error=error,
    )
    tally(report, set())
    return report


def tally(report: ExecutionReport, excused: set[str]) -> None:
    """The report's counts from its outcomes; a test skipped by a mark (skip, skipif, xfail)
    counts nowhere: the test's author chose it, so it neither helps nor hurts a candidate."""
    counted = [t for t in report.tests if not (t.outcome == "skipped" and t.nodeid in excused)]
    report.passed = sum(t.outcome == "passed" for t in counted)
    report.failed = sum(t.outcome in ("failed", "error") for t in counted)
    report.skipped = sum(t.outcome == "skipped" for t in counted)
    report.total = len(counted)


def syntax_error(source: str) -> str:
    """Why `source` does not parse, or "": a candidate that does not is never run."""
    try:
        ast.parse(source)
    except SyntaxError as error:
        return f"SyntaxError in candidate: {error.msg} (line {error.lineno})"
    except ValueError as error:  # e.g. a null byte
        return f"SyntaxError in candidate: {error}"
    return ""


def import_time_refusal(original_source: str, source: str, function: str) -> str:
    """Why the candidate is not run at all: it adds module-level code that would run
    when the tests import it (import_time.py), before the judge could tell it from theirs."""
    found = added_import_time_code(original_source, source, function)
    if not found:
        return ""
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return (
        f"refused before running: the candidate adds code that runs at import ({found[0]}{more});"
        " only imports, definitions and constants may be added at module level"
    )
