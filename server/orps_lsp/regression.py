"""The test the user's suite lacks: a call on which a refused rewrite behaved differently from
the original, written as a ready-to-paste pytest test that the original passes.

Only calls that read as Python literals are written (`merge([[2], [1, 2]])`, never an object's
repr), checked with `ast.literal_eval`, which evaluates nothing.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path
from typing import Any

from .contract import ReportWarning, WarningCode
from .report import SearchReport
from .sandbox.oracle import show


def missing_test(report: SearchReport, module: str) -> str:
    """The shortest counterexample among the refused candidates as a test ("" when none reads
    as literals). `module` is the import name of the function's module."""
    if "." in report.function:
        return ""  # a method's call needs its instance, which the record does not show as a literal
    examples = [
        example
        for node in report.nodes
        if node.execution is not None and node.execution.behaviour
        for example in node.execution.behaviour.counterexamples
    ]
    written = [(len(str(e.get("call", ""))), t) for e in examples if (t := _as_test(e, report.function, module))]
    return min(written)[1] if written else ""  # the shortest call


def unmentioned_exceptions(report: SearchReport, docstring: str | None) -> list[ReportWarning]:
    """Solve: exceptions the offered answer raises on generated inputs that its docstring
    does not name (one warning each)."""
    best = report.best
    if report.mode != "solve" or best is None or best.execution is None:
        return []
    return [
        ReportWarning(
            WarningCode.UNDOCUMENTED_RAISE,
            f"the answer raises {name} on {call} (a generated input), which the docstring does not mention",
        )
        for name, call in sorted(best.execution.generated_raises.items())
        if name not in (docstring or "")
    ]


def with_test_appended(current: str, test: str) -> str:
    """A test file's text with the test added at its end (the CLI's --write-tests, the LSP's action)."""
    return (current.rstrip("\n") + "\n\n\n" if current.strip() else "") + test


def test_file_for(root: Path, test_files: list[Path], module: Path) -> Path | None:
    """Where the missing test goes: the first test file that judged the function (not the
    module itself, chosen for its doctests)."""
    for path in test_files:
        full = path if path.is_absolute() else root / path
        if full.is_file() and full.resolve() != module.resolve():
            return full.resolve()
    return None


def _as_test(example: dict[str, Any], function: str, module: str) -> str:
    call, expected = str(example.get("call", "")), example.get("expected") or []
    if not _literal_call(call, function):
        return ""
    name = re.sub(r"\W", "_", function)
    header = f"from {module} import {function}\n\n\ndef test_{name}_keeps_the_behaviour_of_the_original():\n"
    if expected[:1] == ["raised"] and len(expected) >= 2:
        error = str(expected[1])
        if not isinstance(getattr(builtins, error, None), type):
            return ""  # an exception of the project's: its import path is not recorded
        return f"import pytest\n{header}    with pytest.raises({error}):\n        {call}\n"
    if expected[:1] != ["returned"] or len(expected) < 2:
        return ""
    value, shown = expected[1], show(expected[1])
    if isinstance(value, list) and value[:1] == ["iter"]:
        shown, call = shown[len("iter(") : -1], f"list({call})"
    if not _is_literal(shown) or shown.endswith("..."):
        return ""
    if isinstance(value, list) and value[:1] == ["float"]:
        return f"import pytest\n{header}    assert {call} == pytest.approx({shown})\n"
    operator = "is" if shown in ("None", "True", "False") else "=="
    return f"{header}    assert {call} {operator} {shown}\n"


def _literal_call(call: str, function: str) -> bool:
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError:
        return False
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function):
        return False
    return all(_is_literal(ast.unparse(a)) for a in [*node.args, *(k.value for k in node.keywords)]) and all(
        k.arg for k in node.keywords
    )


def _is_literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True
