"""Runs candidate code against the user's pytest tests, contained and profiled."""

from __future__ import annotations


def describe_isolation() -> str:
    """The isolation a sandboxed run started now would have, in one line (for debug info)."""
    from . import warm  # probes the machine: only when asked
    from .isolation import resolve

    layer = resolve()
    return layer.describe() + warm.describe_runs(warm.enabled(layer, True))
