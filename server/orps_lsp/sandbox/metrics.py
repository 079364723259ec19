"""Static metrics and line ranges of one function, read from the module source."""

from __future__ import annotations

import ast
from collections.abc import Iterator

import lizard

from ..report import StaticMetrics

_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def find_definition(tree: ast.Module, qualified_name: str) -> _Definition | None:
    """The def/class node for "f", "Class.method" or "Outer.Inner.f".

    Looks through if/try/with blocks too (e.g. a def under `if sys.version_info`);
    the last definition wins, as it does at run time.
    """
    scope: list[ast.stmt] = tree.body
    node: _Definition | None = None
    for part in qualified_name.split("."):
        matches = [n for n in _definitions_in(scope) if n.name == part]
        if not matches:
            return None
        node = matches[-1]
        scope = node.body
    return node


def _definitions_in(statements: list[ast.stmt]) -> Iterator[_Definition]:
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield statement
        elif isinstance(statement, (ast.If, ast.Try, ast.With, ast.AsyncWith)):
            for block in ("body", "orelse", "finalbody"):
                yield from _definitions_in(getattr(statement, block, []))
            for handler in getattr(statement, "handlers", []):
                yield from _definitions_in(handler.body)


def function_line_range(module_source: str, function: str) -> tuple[int, int]:
    """(first body line, last line) of `function`; raises LookupError when absent.

    The `def` line itself is left out: it runs at import, not when the tests
    call the function, so it says nothing about coverage.
    """
    node = find_definition(ast.parse(module_source), function)
    if node is None or isinstance(node, ast.ClassDef):
        raise LookupError(f"function {function!r} not found")
    return node.body[0].lineno, node.end_lineno or node.body[-1].lineno


def static_metrics(module_source: str, function: str) -> StaticMetrics:
    """Cyclomatic complexity, NLOC and parameter count of `function` (zeros if not found)."""
    try:
        analysis = lizard.analyze_file.analyze_source_code("candidate.py", module_source)
    except Exception:  # lizard is a heuristic parser; never let it fail a run
        return StaticMetrics()
    functions = analysis.function_list
    try:
        node = find_definition(ast.parse(module_source), function)
    except (SyntaxError, ValueError):
        node = None
    if node is not None:
        # lizard names a method "method", not "Class.method": match by position.
        chosen = [f for f in functions if f.start_line == node.lineno]
    else:
        short_name = function.rsplit(".", 1)[-1]
        chosen = [f for f in functions if f.name in (function, short_name)]
        chosen = chosen if len(chosen) == 1 else []
    if not chosen:
        return StaticMetrics()
    found = chosen[0]
    return StaticMetrics(
        cyclomatic_complexity=int(found.cyclomatic_complexity),
        nloc=int(found.nloc),
        parameter_count=int(found.parameter_count),
    )
