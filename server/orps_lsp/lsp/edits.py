"""The smallest line-range TextEdit that turns one text into another.

Replacing only the changed lines keeps the editor's cursor, folds and undo
history sensible outside the searched function. Edits are whole lines, so
positions are (line, 0) except at a last line without a newline, whose
length is counted in the client's position encoding.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lsprotocol import types

# LSP lines end at \n, \r\n or \r only; str.splitlines also splits at form feeds and
# other characters that editors keep inside a line.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, numbered as the editor numbers them."""
    return _LINE.findall(text)


def utf16_units(text: str) -> int:
    """The LSP default position encoding."""
    return len(text.encode("utf-16-le")) // 2


def minimal_edit(old: str, new: str, units: Callable[[str], int] = utf16_units) -> types.TextEdit | None:
    """One TextEdit replacing the lines that differ; None when the texts are equal."""
    if old == new:
        return None
    old_lines = split_lines(old)
    new_lines = split_lines(new)
    prefix = 0
    while prefix < min(len(old_lines), len(new_lines)) and old_lines[prefix] == new_lines[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old_lines), len(new_lines)) - prefix and old_lines[-1 - suffix] == new_lines[-1 - suffix]:
        suffix += 1
    old_end = len(old_lines) - suffix
    replacement = "".join(new_lines[prefix : len(new_lines) - suffix])
    return types.TextEdit(
        range=types.Range(start=types.Position(line=prefix, character=0), end=_line_start_or_end(old_lines, old_end, units)),
        new_text=replacement,
    )


def _line_start_or_end(lines: list[str], index: int, units: Callable[[str], int]) -> types.Position:
    """The start of line `index`; past the last line, the end of the text."""
    if index < len(lines):
        return types.Position(line=index, character=0)
    if not lines or lines[-1].endswith(("\n", "\r")):
        return types.Position(line=len(lines), character=0)
    return types.Position(line=len(lines) - 1, character=units(lines[-1]))


def apply_edits(text: str, edits: list[types.TextEdit], units: Callable[[str], int] = utf16_units) -> str:
    """Apply non-overlapping edits the way an editor does (used by tests and the diff view)."""

    def offset(position: types.Position) -> int:
        lines = split_lines(text)
        before = sum(len(line) for line in lines[: position.line])
        if position.line >= len(lines):
            return len(text)
        line, column, count = lines[position.line], 0, 0
        while column < len(line) and count < position.character:
            count += units(line[column])
            column += 1
        return before + column

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start, end = offset(edit.range.start), offset(edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    return text
