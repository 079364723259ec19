"""The prefill on a server that starts a new turn: finding where the answer writes it again.

llama-cpp-python's server answers a trailing assistant message in a new turn, in
which the model usually writes the prefill again, often after a sentence. These
pure functions cut that repetition (`after_prefill`) and find the stop strings
after it (`stop_index`), so that `prefill + text` reads right for either kind of
server.
"""

from __future__ import annotations

import re

# Where a server that continued the prefill may still have repeated it (never seen; a guard).
PREFILL_SEARCH_CHARS = 400

_FENCE_OPENING = re.compile(r"^[ \t]*```[\w+-]*[^\n]*\n", re.MULTILINE)


def _find_lines(lines: list[str], text: str) -> re.Match[str] | None:
    """`lines` in order, each at the start of a line of `text`, whatever the whitespace around them."""
    return re.search(r"^[ \t]*" + r"\s*".join(re.escape(line) for line in lines), text, re.MULTILINE)


def _prefill_repeated(prefill: str, text: str) -> tuple[re.Match[str], bool] | None:
    """Where `text` writes the prefill again: (match, whole), or None.

    `whole` is False when only the lines after a prefill's code fence were
    found: the new answer's code block starts with something else (imports).
    """
    lines = [line.strip() for line in prefill.splitlines() if line.strip()]
    if not lines:
        return None
    whole = _find_lines(lines, text)
    if whole is not None:
        return whole, True
    if len(lines) > 1 and lines[0].startswith("```"):
        signature = _find_lines(lines[1:], text)
        if signature is not None:
            return signature, False
    return None


def after_prefill(prefill: str, text: str, *, new_turn: bool = True) -> str:
    """The part of an answer that follows the prefill, so that `prefill + result` reads right.

    A server that continued the prefill returned just that part. In a new
    turn the model usually wrote the prefill again, maybe after a sentence:
    that is cut. When the prefill opens a code block and the new block puts
    imports or helpers before the signature, they are moved after the
    function, where Python still finds them at call time.
    """
    found = _prefill_repeated(prefill, text if new_turn else text[: PREFILL_SEARCH_CHARS + len(prefill)])
    if found is None:
        return text
    match, whole = found
    rest = text[match.end() :]
    if prefill.endswith("\n") and rest.startswith("\n"):
        rest = rest[1:]
    if whole:
        return rest
    fences = list(_FENCE_OPENING.finditer(text, 0, match.start()))
    preamble = text[fences[-1].end() : match.start()].strip() if fences else ""  # prose is dropped
    return rest.rstrip("\n") + ("\n\n\n" + preamble if preamble else "")


def stop_index(text: str, prefill: str, stops: list[str]) -> int | None:
    """Where a new-turn answer reaches a stop string, looking only after the prefill's repetition."""
    found = _prefill_repeated(prefill, text)
    if found is None:
        return None
    start = found[0].end()
    hits = [index for stop in stops if (index := text.find(stop, start)) >= 0]
    return min(hits) if hits else None
