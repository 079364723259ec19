"""How each version's time grows with the size of its arguments (sandbox side).

Unit tests call a function on small inputs: a rewrite can be faster there and slower on
what production feeds it (a set built for three items, a quadratic loop that wins at n=5).
After the per-call benchmark, the calls with the largest arguments are grown FACTORS
times and both versions are timed at each size, alternately, the best of a few timings
each; the executor fits the growth from the raw figures. A list or tuple of integers
grows by copies shifted past the call's range of integers (distinct values stay
distinct, a sorted list stays sorted, and an item of one argument is in another after
growing exactly when it was before); other lists, tuples, strings and bytes are
repeated; a call with none of those has its positive integers multiplied.

Grown inputs are not the tests' inputs: they may lie outside what the function accepts
(a list that had to be sorted), so what they show is a warning about speed, and answers
that differ there are said, not held against the candidate as a wrong answer.
"""

from __future__ import annotations

import math
import pickle
import time
from typing import Any

from . import capture
from .benchmark import _b64decode, _Call, _Side, _timed, _warm_up

_ns = time.perf_counter_ns

FACTORS = (1, 4, 16, 64)  # the tests' sizes, then grown (as far as the time allows)
CALLS = 3  # the calls with the largest arguments
TIMINGS = 3  # per version and size: the least counts
MAX_INTEGER = 10**6  # integers above this are left as they are (a seed, a modulus, ...)
_SIZED = (list, tuple, str, bytes)


def grown(args: list[Any], kwargs: dict[str, Any], factor: int) -> tuple[list[Any], dict[str, Any]] | None:
    """The call with its sized arguments `factor` times longer, else its positive integers
    `factor` times larger; None when nothing in it grows."""
    values = [*args, *kwargs.values()]
    if any(isinstance(value, _SIZED) and len(value) for value in values):
        integers = [item for value in values if _integers(value) for item in value]
        span = max(integers) - min(integers) + 1 if integers else 0

        def grow(value: Any) -> Any:
            if _integers(value):
                return type(value)(item + copy * span for copy in range(factor) for item in value)
            return value * factor if isinstance(value, _SIZED) else value
    elif any(_is_count(value) for value in values):

        def grow(value: Any) -> Any:
            return value * factor if _is_count(value) else value
    else:
        return None
    return [grow(value) for value in args], {key: grow(value) for key, value in kwargs.items()}


def size(args: list[Any], kwargs: dict[str, Any]) -> int:
    """What grows: the sized arguments' total length, else the integers' sum."""
    values = [*args, *kwargs.values()]
    sized = [len(value) for value in values if isinstance(value, _SIZED)]
    if any(sized):
        return sum(sized)
    return sum(value for value in values if _is_count(value))


def _integers(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and type(value) in (list, tuple)
        and bool(value)
        and all(type(item) is int for item in value)
    )


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 < value <= MAX_INTEGER


def measure(
    original_module: Any, candidate_module: Any, function: str, blobs: list[str], seconds: float, limit: float, alarm: Any
) -> dict[str, Any]:
    """{"calls": [{"index", "sizes": [...], "original": [s per call, ...], "candidate": [...]}],
    "differs": "" or the first size at which the answers differed, "note"}; sizes that would
    not fit in the time left are not measured."""
    started = _ns()
    deadline = started + int(seconds * 1e9)
    original, candidate = _Side(original_module, function), _Side(candidate_module, function)
    if original.function is None or candidate.function is None:
        return {"calls": [], "differs": "", "note": f"no function {function} to time"}
    chosen = []
    for index, blob in enumerate(blobs):
        args, kwargs = original.load(_b64decode(blob))
        if grown(args, kwargs, 2) is not None:
            chosen.append((size(args, kwargs), index, args, kwargs))
    chosen = sorted(chosen, key=lambda entry: entry[0], reverse=True)[:CALLS]
    if not chosen:
        return {"calls": [], "differs": "", "note": "no argument grows (no sequence, string or count)"}
    results, differs = [], ""
    for _, index, args, kwargs in chosen:
        entry: dict[str, Any] = {"index": index, "sizes": [], "original": [], "candidate": []}
        slowest = 0.0
        for step, factor in enumerate(FACTORS):
            if step and slowest * (factor / FACTORS[step - 1]) ** 2 * 2 * TIMINGS > (deadline - _ns()) / 1e9:
                break  # at worst quadratic growth, this size would not fit in the time left
            bigger = grown(args, kwargs, factor)
            if bigger is None:
                break
            call = _Call(pickle.dumps(bigger, protocol=4))
            try:
                _warm_up(call, (original, candidate), {}, min(limit, max((deadline - _ns()) / 1e9, 0.01)), alarm)
                best = {id(original): math.inf, id(candidate): math.inf}
                for timing in range(TIMINGS):
                    for side in (original, candidate) if timing % 2 == 0 else (candidate, original):
                        best[id(side)] = min(best[id(side)], _timed(side, call, limit, alarm) / call.repeats / 1e9)
                if not differs and _outcome(original, call, limit, alarm) != _outcome(candidate, call, limit, alarm):
                    differs = f"{factor}x"
            except BaseException as exc:  # noqa: BLE001 - the time limit (or the function itself) ended it
                if isinstance(exc, KeyboardInterrupt):
                    raise
                break
            entry["sizes"].append(size(*bigger))
            entry["original"].append(best[id(original)])
            entry["candidate"].append(best[id(candidate)])
            slowest = max(best.values()) * call.repeats
        results.append(entry)
        if _ns() > deadline:
            break
    return {"calls": results, "differs": differs, "note": ""}


def _outcome(side: _Side, call: _Call, limit: float, alarm: Any) -> Any:
    """What the side answers on the call, in canonical form (capture.py's)."""
    args, kwargs = side.load(call.blob)
    alarm(limit)
    try:
        return capture.returned(side.function(*args, **kwargs))[1]
    except Exception as exc:  # noqa: BLE001 - what it raises is its answer
        return capture.raised(exc)
    finally:
        alarm(0)
