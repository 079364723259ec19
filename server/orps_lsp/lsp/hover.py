"""What the editor shows about finished searches: hover, code lens, diagnostics.

Reports are kept per (document, function) until the server stops. Everything
here is computed from a stored report and the document's current text, so it
answers at once, whatever the search worker is doing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from lsprotocol import types

from ..contract import TEST_WARNINGS, Command, WarningCode
from ..render import best_attempt, critique_summary, metrics_table
from ..report import ExecutionReport, SearchReport
from ..scoring import speedup as measured_speedup
from ..source import FunctionInfo
from .outline import function_at, functions_in

SOURCE = "orps"


class ReportStore:
    """The last report of each searched function, by document URI."""

    def __init__(self) -> None:
        self._reports: dict[str, dict[str, SearchReport]] = {}
        self._lock = threading.Lock()

    def put(self, uri: str, report: SearchReport) -> None:
        with self._lock:
            self._reports.setdefault(uri, {})[report.function] = report

    def get(self, uri: str, function: str) -> SearchReport | None:
        with self._lock:
            return self._reports.get(uri, {}).get(function)

    def for_document(self, uri: str) -> dict[str, SearchReport]:
        with self._lock:
            return dict(self._reports.get(uri, {}))


# ------------------------------------------------------------------ figures
def speedup(report: SearchReport) -> float | None:
    """Original time / best time: per call where the function was timed so (what the verdict
    says), else over the tests' runs, by instructions when both were counted."""
    best = report.best
    if best is None or best.execution is None or report.mode != "optimize":
        return None
    return measured_speedup(report.original, best.execution, instructions=True)


def _tests(execution: ExecutionReport | None) -> str:
    return f"{execution.passed}/{execution.total} tests" if execution and execution.total else "no tests run"


def lens_title(report: SearchReport) -> str:
    node = report.best or best_attempt(report)
    parts = [f"ORPS: {_tests(node.execution if node else report.original)}"]
    factor = speedup(report)
    if report.improved and factor:
        parts.append(f"{factor:.1f}x faster")
    elif report.improved:
        parts.append("solved" if report.mode == "solve" else "improved")
    else:
        parts.append("nothing better")
    parts.append(f"{len(report.nodes)} candidate{'s' if len(report.nodes) != 1 else ''}")
    return " - ".join(parts)


def hover_markdown(report: SearchReport) -> str:
    s = report.stats
    factor = speedup(report)
    lines = [f"**ORPS {report.mode}: `{report.function}`** - {report.verdict}", ""]
    if factor:
        lines += [f"Speed-up: **{factor:.2f}x**", ""]
    lines += ["```text", metrics_table(report), "```", "", critique_summary(report)[:400], ""]
    lines.append(
        f"{len(report.nodes)} candidates tried ({s.candidates_executed} run), {s.llm_calls} LLM calls, "
        f"{s.wall_seconds:.0f} s, stopped by {s.stopped_by or '-'}; model `{report.model}`"
    )
    lines += [f"\n**Warning:** {w.message}" for w in report.warnings]
    if report.tests:
        lines += ["", "Tests: " + "; ".join(f"`{path}` ({why})" for path, why in report.tests.items())]
    if report.missing_test:
        lines += [
            "",
            "A test your suite lacks (the original passes it; a refused rewrite did not):",
            "",
            "```python",
            report.missing_test.rstrip(),
            "```",
        ]
    return "\n".join(lines)


# ------------------------------------------------------------ LSP features
def _def_range(info: FunctionInfo) -> types.Range:
    line = info.def_line - 1
    return types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line + 1, character=0))


def hover(store: ReportStore, uri: str, source: str, line: int) -> types.Hover | None:
    """Hover for 0-based `line` when it falls in a searched function."""
    reports = store.for_document(uri)
    if not reports:
        return None
    info = function_at(source, line)
    if info is None or info.qualname not in reports:
        return None
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=hover_markdown(reports[info.qualname])),
        range=types.Range(
            start=types.Position(line=info.start_line - 1, character=0), end=types.Position(line=info.end_line, character=0)
        ),
    )


def code_lenses(
    store: ReportStore,
    uri: str,
    source: str,
    running: set[str],
    rerun_arguments: Callable[[FunctionInfo], dict[str, Any]],
) -> list[types.CodeLens]:
    reports = store.for_document(uri)
    if not reports and not running:
        return []
    lenses = []
    for info in functions_in(source):
        if info.qualname in running:
            command = types.Command(
                title="ORPS: searching... (click to cancel)", command=Command.CANCEL, arguments=[rerun_arguments(info)]
            )
        elif info.qualname in reports:
            report = reports[info.qualname]
            name = Command.SOLVE if report.mode == "solve" and info.is_stub else Command.OPTIMIZE
            command = types.Command(title=lens_title(report), command=name, arguments=[rerun_arguments(info)])
        else:
            continue
        lenses.append(types.CodeLens(range=_def_range(info), command=command))
    return lenses


def weak_test_diagnostics(store: ReportStore, uri: str, source: str) -> list[types.Diagnostic]:
    """An information diagnostic on each searched function whose tests the report calls weak or missing."""
    reports = store.for_document(uri)
    diagnostics = []
    for info in functions_in(source) if reports else []:
        report = reports.get(info.qualname)
        warnings = [w.message for w in report.warnings if w.code in TEST_WARNINGS] if report else []
        if warnings:
            diagnostics.append(
                types.Diagnostic(
                    range=_def_range(info),
                    message=f"ORPS: {'; '.join(warnings)}",
                    severity=types.DiagnosticSeverity.Information,
                    source=SOURCE,
                    code=str(WarningCode.WEAK_TESTS),  # no tests or weak ones: the tests cannot judge
                )
            )
    return diagnostics
