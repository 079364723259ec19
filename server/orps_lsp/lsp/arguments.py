"""The one argument of orps.optimize, orps.solve, orps.cancel and orps.getReport: built for
code actions and lenses, and checked for the command handlers.

    [{uri, position: {line, character} | range: {start, end} | line, version?, function?}]

An argument of another shape is answered with InvalidParams (failures.py), saying what is
wrong, and nothing runs. Optional keys may be absent or null; present, they must be of
their type: a guess at what a malformed value meant could search the wrong function.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .failures import invalid_params

EXPECTED = "expected one argument {uri, position or range, version}"


def target_arguments(uri: str, line: int, version: int | None, function: str | None = None) -> dict[str, Any]:
    """The one argument of orps.optimize/orps.solve (also used by code lenses)."""
    arguments: dict[str, Any] = {"uri": uri, "position": {"line": line, "character": 0}}
    if version is not None:
        arguments["version"] = version
    if function:
        arguments["function"] = function
    return arguments


@dataclass(frozen=True)
class Target:
    uri: str
    line: int | None  # 0-based; None when only a function name was given
    version: int | None
    function: str | None


def parse_target(command: str, arguments: Sequence[Any]) -> Target:
    """The handler's arguments -> Target; raises InvalidParams saying what is wrong."""
    given = arguments[0] if arguments else None
    if not isinstance(given, dict) or not isinstance(given.get("uri"), str) or not given["uri"]:
        raise invalid_params(command, EXPECTED)

    def problem(what: str, key: str) -> Exception:
        return invalid_params(command, f"{key} must be {what}, got {reprlib.repr(given[key])}")

    lines = []  # the line of each way of giving it, in order of precedence
    if given.get("position") is not None:
        lines.append(_line_of(given["position"]) if isinstance(given["position"], dict) else None)
        if lines[-1] is None:
            raise problem("a position {line, character} of whole numbers >= 0", "position")
    if given.get("range") is not None:
        start = given["range"].get("start") if isinstance(given["range"], dict) else None
        lines.append(_line_of(start) if isinstance(start, dict) else None)
        if lines[-1] is None:
            raise problem("a range {start, end} of positions {line, character}", "range")
    if given.get("line") is not None:
        if not _whole(given["line"]):
            raise problem("a whole number >= 0", "line")
        lines.append(given["line"])
    function, version = given.get("function"), given.get("version")
    if function is not None and (not isinstance(function, str) or not function):
        raise problem("a function's qualified name (Class.method)", "function")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise problem("the document's version (a whole number)", "version")
    if not lines and function is None:
        raise invalid_params(command, "expected a position {line, character}, a range, or a function name")
    return Target(uri=given["uri"], line=lines[0] if lines else None, version=version, function=function)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _line_of(position: dict[str, Any]) -> int | None:
    """The line of an LSP position; None when it is not one (`character` may be left out: only the line counts)."""
    character = position.get("character", 0)
    line = position.get("line")
    return line if _whole(line) and _whole(character) else None
