"""The searchable functions of a document, parsed once per text.

Editors ask for code actions on every cursor move and for hovers and lenses
often; the text changes far less often, so the parse is cached by text.
"""

from __future__ import annotations

from functools import lru_cache

from ..source import FunctionInfo, SourceError, all_functions


@lru_cache(maxsize=16)
def _parse(source: str) -> tuple[FunctionInfo, ...] | None:
    try:
        return tuple(all_functions(source))
    except SourceError:
        return None


def functions_in(source: str) -> tuple[FunctionInfo, ...]:
    """Module functions and methods; empty while the text does not parse (mid-edit)."""
    return _parse(source) or ()


def function_at(source: str, line: int) -> FunctionInfo | None:
    """The function whose text holds 0-based `line`; the innermost (a method, not its class) wins."""
    holding = [f for f in functions_in(source) if f.start_line <= line + 1 <= f.end_line]
    return max(holding, key=lambda f: f.start_line, default=None)
