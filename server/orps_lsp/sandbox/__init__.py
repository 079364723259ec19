"""Runs candidate code against the user's pytest tests, contained and profiled."""

from __future__ import annotations


def describe_isolation() -> str:
    """The isolation a sandboxed run started now would have, in one line (for debug info)."""
    from .isolation import isolation_summary  # probes the machine: only when asked

    return isolation_summary()
