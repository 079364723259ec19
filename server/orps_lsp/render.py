"""Plain-text views of a search report: the diff, the metrics table, the critique."""

from __future__ import annotations

import difflib
import os
import statistics

from .report import ExecutionReport, Node, SearchReport


def unified_diff(report: SearchReport, original_source: str) -> str:
    if report.new_source is None:
        return ""
    name = os.path.relpath(report.file) if os.path.isabs(report.file) else report.file
    if name.startswith(".."):
        name = report.file.lstrip("/")
    return "".join(
        difflib.unified_diff(
            original_source.splitlines(keepends=True),
            report.new_source.splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
    )


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us" if seconds >= 1e-6 else "<1 us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _row(report: ExecutionReport | None) -> dict[str, str]:
    if report is None:
        return {}
    return {
        "tests passed": f"{report.passed}/{report.total}" + (f" ({report.skipped} skipped)" if report.skipped else ""),
        "time in tests (wall)": _fmt_time(report.wall_time),
        "time in tests (CPU)": _fmt_time(report.cpu_time),
        "instructions": f"{report.instructions:,} ({report.instruction_counter})" if report.instructions else "not counted",
        "peak memory": f"{report.peak_rss_kb / 1024:.1f} MiB" if report.peak_rss_kb else "-",
        "cyclomatic complexity": str(report.static.cyclomatic_complexity),
        "NLOC": str(report.static.nloc),
        "line coverage": f"{report.coverage:.0%}" if report.coverage is not None else "-",
        "captured calls": _calls(report),
        "generated inputs": _generated(report),
        "CrossHair": _cross_checked(report),
    }


def _after_first(row: dict[str, str], name: str, value: str) -> dict[str, str]:
    items = list(row.items())
    return dict([*items[:1], (name, value), *items[1:]])


def _calls(report: ExecutionReport) -> str:
    """The original's calls kept as the oracle; a candidate's replay of them."""
    if report.capture is not None:
        return f"{report.capture.usable} kept of {report.capture.captured}"
    if report.behaviour is not None and report.behaviour.compared:
        return f"{report.behaviour.identical}/{report.behaviour.compared} identical"
    return "-"


def _generated(report: ExecutionReport) -> str:
    """The inputs drawn from those calls: kept as the oracle; a candidate's replay of them."""
    if report.capture is not None and (report.capture.generated or report.capture.generated_skipped):
        return f"{report.capture.generated} kept of {report.capture.generated + sum(report.capture.generated_skipped.values())}"
    if report.behaviour is not None and report.behaviour.generated_compared:
        return f"{report.behaviour.generated_identical}/{report.behaviour.generated_compared} identical"
    return "-"


def _cross_checked(report: ExecutionReport) -> str:
    """What CrossHair found on the candidate about to be offered (the original: not its place)."""
    check = report.behaviour.cross_check if report.behaviour is not None else None
    if check is None:
        return "-"
    if check.seconds is None:
        return "not run"
    return (
        f"{check.different} difference(s) in {check.seconds:g} s" if check.different else f"no difference in {check.seconds:g} s"
    )


def metrics_table(report: SearchReport) -> str:
    best = report.best
    original = _row(report.original)
    candidate = _row(best.execution if best else None)
    bench = best.execution.per_call if best and best.execution else None
    if bench is not None and bench.original_seconds and bench.candidate_seconds:  # the benchmark's medians
        name = "time per call (median)"
        original = _after_first(original, name, _fmt_time(statistics.median(bench.original_seconds)))
        candidate = _after_first(candidate, name, _fmt_time(statistics.median(bench.candidate_seconds)))
    header = ("", "original", "best" if best else "best (none offered)")
    rows = [header] + [(name, original.get(name, "-"), candidate.get(name, "-")) for name in original]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def critique_summary(report: SearchReport) -> str:
    node = report.best or best_attempt(report)
    if node is None or node.critique is None:
        return "critic: no critique"
    score = f"{node.critique.score}/5" if node.critique.score else "no score"
    return f"critic ({score}): {node.critique.text or '(empty)'}"


def best_attempt(report: SearchReport) -> Node | None:
    valid = [n for n in report.nodes if n.valid]
    return max(valid, key=lambda n: n.scores.step) if valid else None


def tests_explained(report: SearchReport) -> str:
    """Which test files judged the function, and why each was chosen."""
    if not report.tests:
        return "tests: none (the search ran without tests)"
    return "\n".join([f"tests ({len(report.tests)} file(s)):"] + [f"  {path}: {why}" for path, why in report.tests.items()])


def text_report(report: SearchReport, original_source: str) -> str:
    s = report.stats
    parts = []
    diff = unified_diff(report, original_source)
    if diff:
        parts += [diff.rstrip("\n"), ""]
    parts += [metrics_table(report), "", critique_summary(report), "", tests_explained(report)]
    if report.original is not None and report.original.capture is not None:
        parts.append(f"oracle: {report.original.capture.describe()}")
    parts.append("")
    for warning in report.warnings:
        parts.append(f"WARNING: {warning.message}")
    parts.append(
        f"{len(report.nodes)} candidates, {s.candidates_executed} executed, {s.llm_calls} LLM calls, "
        f"{s.generated_tokens} tokens generated, {s.wall_seconds:.0f} s (stopped by {s.stopped_by}); model {report.model}"
    )
    parts.append(
        f"time: prompts {s.prompt_seconds:.0f} s, generation {s.generation_seconds:.0f} s, evaluating {s.evaluation_seconds:.0f} s"
        f"{_breakdown(s.evaluation_breakdown)}; "
        f"prompt tokens evaluated {s.prompt_tokens_evaluated} of {s.prompt_tokens_sent} sent"
    )
    parts.append(report.verdict)
    return "\n".join(parts)


def _breakdown(seconds_by_measure: dict[str, float]) -> str:
    """(test runs 12 s, feedback benchmarks 4 s, ...): the measures that took a second or more."""
    shown = [f"{what} {seconds:.0f} s" for what, seconds in seconds_by_measure.items() if seconds >= 0.5]
    return f" ({', '.join(shown)})" if shown else ""
