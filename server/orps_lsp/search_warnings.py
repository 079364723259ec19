"""The warnings a search report carries: what about the original or its tests limits what
the result proves, and what the grown calls say against the chosen candidate."""

from __future__ import annotations

from .config import SearchConfig
from .contract import ReportWarning, WarningCode
from .final_pick import scaling_warning
from .report import ExecutionReport, Node


def unverified_warning() -> ReportWarning:
    return ReportWarning(
        WarningCode.NO_TESTS,
        "NO TESTS: nothing was executed; the result is judged by the model alone and is unverified.",
    )


def original_warnings(original: ExecutionReport, config: SearchConfig, mode: str) -> list[ReportWarning]:
    """What the original's run against the tests says about them (optimising only)."""
    warnings = []
    if original.failed and mode == "optimize":
        warnings.append(
            ReportWarning(
                WarningCode.ORIGINAL_FAILS,
                f"the original fails {original.failed} of {original.total} tests; the guard keeps only the tests it passes",
            )
        )
    if original.skipped and mode == "optimize":
        warnings.append(
            ReportWarning(
                WarningCode.TESTS_SKIP,
                f"{original.skipped} of {original.total} tests skip themselves with the original; they judge nothing",
            )
        )
    if original.coverage is not None and original.coverage < config.coverage_warning and mode == "optimize":
        warnings.append(
            ReportWarning(
                WarningCode.WEAK_TESTS,
                f"weak tests: they run only {original.coverage:.0%} of the function's lines; "
                "a faster version may be wrong where they do not look",
            )
        )
    if original.error and mode == "optimize":
        warnings.append(ReportWarning(WarningCode.ORIGINAL_ERROR, f"the original did not run cleanly: {original.error}"))
    return warnings


def chosen_warning(node: Node) -> ReportWarning | None:
    """The chosen candidate slower, or answering differently, on grown calls (None: neither)."""
    growth = scaling_warning(node.execution.per_call if node.execution else None)
    if growth:
        return ReportWarning(WarningCode.SCALING, f"The chosen candidate: {growth}.")
    return None
