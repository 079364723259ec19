"""Where the original spends its time, line by line (sandbox side).

In a run of the original, its function is run under line_profiler on the captured calls,
pass after pass until the time given is spent; the hits and time of each of its lines go
back. The programmer's prompt names the few lines that take most of the time: a small
model rewrites the loop that matters more often when it is told which one it is.

Only the original runs here (never a candidate), so nothing in this run is judged.
"""

from __future__ import annotations

import base64
import itertools
import time
from typing import Any

from . import capture
from .benchmark import _Call, _Side, _warm_up

_ns = time.perf_counter_ns
_OVERHEAD = 10  # how much slower a call runs under line_profiler, at most (pure-Python loops)


def profile(module: Any, function: str, blobs: list[str], seconds: float, limit: float, alarm: Any) -> dict[str, Any]:
    """{"lines": [[line number in the file, hits, seconds], ...], "passes", "note"}."""
    try:
        from line_profiler import LineProfiler
    except ImportError:
        return {"note": "line_profiler is not installed where the tests run"}
    side = _Side(module, function)
    if side.function is None:
        return {"note": f"no function {function} to profile"}
    calls = [_Call(base64.b64decode(blob)) for blob in blobs]
    for call in calls:
        _warm_up(call, (side,), {}, limit, alarm)
    # Under the profiler a call runs several times slower: only the calls that fit the time.
    calls = [call for call in calls if call.seconds * _OVERHEAD <= seconds]
    if not calls:
        return {"note": f"each captured call takes too long to profile in {seconds:g} s"}
    profiler = LineProfiler()
    side.function = profiler(side.function)
    deadline = _ns() + int(seconds * 1e9)
    passes = 0
    while passes == 0 or _ns() < deadline:
        for call in calls:
            args, kwargs = side.load(call.blob)
            for clear in side.caches:
                clear()
            alarm(limit)
            try:
                result = side.function(*args, **kwargs)
                if call.iterates.get(id(side)):
                    for _ in itertools.islice(result, capture.MAX_ITEMS):
                        pass
            except Exception:  # noqa: BLE001 - the original's own behaviour on its own calls
                pass
            finally:
                alarm(0)
        passes += 1
    stats = profiler.get_stats()
    lines = [[line, hits, units * stats.unit] for timings in stats.timings.values() for line, hits, units in timings]
    return {"lines": lines, "passes": passes, "note": "" if lines else "no line of the function ran"}
