"""Time the function, not the test run (sandbox side).

`compare`: in the candidate's run, the original module is loaded beside the candidate's
(from its source, same package and file, not in sys.modules) and both functions are
timed on each captured call, alternately (ABBA over rounds) with the GC off. A call's
repeat count is calibrated so that one timing lasts at least TARGET_NS; each side's
arguments are unpickled against its own module, fresh for every repeat when a call
changes them (outside the timed region); functools caches are cleared before every
call, so a memo does not answer the same arguments twice. Rounds go on until the
ratio's interval is narrow (speedup.py) or the time budget is spent. The raw timings
go back; the executor recomputes every figure.

`alone`: the module's own function only, on every captured call, `passes` times: a run
whose length the executor measures from outside (the kernel's CPU count, wait4), with
no original in the process for a candidate to slow down. The calls too slow to time per
call (a test's large input) come last, made once each: the kernel counts them too.

`heavy`: both versions on each of those calls, original beside candidate as in `compare`,
in ABBA order (original, candidate, candidate, original), two timings each: a whole
process can run a third slower than the next one on this kind of machine (where its memory
lies, the core it gets), so only timings taken in one process compare.

A candidate that keeps state between calls (a module-level dict, a mutable default or
closure that grows with each new call: a hand-made memo) is timed, but said: what it
answers fast the second time is not what it costs on new arguments.

The clocks and everything the timing loop uses are bound at import, before any project
code runs (the plugin imports this module first; guard.py watches its globals).
"""

from __future__ import annotations

import base64
import functools
import gc
import io
import itertools
import math
import os
import pickle
import time
import types
from typing import Any

from . import capture, speedup

_ns = time.perf_counter_ns
_cpu_ns = time.process_time_ns
_gc_disable, _gc_enable, _gc_isenabled, _gc_collect = gc.disable, gc.enable, gc.isenabled, gc.collect
_loads, _dumps, _b64decode = pickle.loads, pickle.dumps, base64.b64decode
_islice, _repeat = itertools.islice, itertools.repeat
_urandom = os.urandom
_LRU = functools._lru_cache_wrapper

TARGET_NS = 200_000  # one timing lasts about this long at least (the clock reads to ~50 ns)
MAX_REPEATS = 10_000
MIN_CALL_NS = 50  # below this a warm-up reading is the clock's noise
MAX_ROUNDS = 400
PRECISION = 0.02  # stop when the interval's half-width is within 2% of the estimate
MAX_COPY_BYTES = 16 * 1024 * 1024  # pickled arguments unpickled for one timing
SAMPLED = 3  # answers kept per call (drawn at random from all its timings), for the executor to check
_COLLECT_EVERY = 10  # rounds
_AGAIN_BELOW_NS = 10_000_000  # a warm-up call quicker than this is made twice, the quicker counts
_MAX_ITEMS = capture.MAX_ITEMS


class Discard(io.TextIOBase):
    """Where a timed function's prints go (the same for both versions; none reach the log)."""

    def write(self, text: str) -> int:
        return len(text)


class _Side:
    """One version of the module: its function, its caches and the state it keeps."""

    def __init__(self, module: Any, function: str) -> None:
        self.module = module
        self.function, _ = capture.resolve(module, function)
        self.caches = [cache.cache_clear for cache in _caches(module)]
        self.checked = False  # its answers are sampled (the candidate's: the executor checks them)
        self.grew_on = 0  # warm-up calls after which the module kept more than before

    def load(self, blob: bytes) -> tuple[list[Any], dict[str, Any]]:
        """The call's arguments, unpickled against this side's module (its classes)."""
        with capture.standing_in(self.module):
            args, kwargs = _loads(blob)  # noqa: S301 - the original's own arguments, in the sandbox
        return list(args), dict(kwargs)


class _Call:
    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.repeats = 1
        self.seconds = 0.0  # the slower side's warm-up call
        self.mutates = False
        self.iterates: dict[int, bool] = {}
        self.took: dict[int, int] = {}  # each side's warm-up, nanoseconds
        self.timings = 0
        self.answers: list[Any] = []  # canonical outcomes, sampled (capture.py's form)


def compare(
    original_module: Any,
    candidate_module: Any,
    function: str,
    blobs: list[str],
    seconds: float,
    limit: float,
    alarm: Any,
    tampered: Any = lambda: "",
) -> dict[str, Any]:
    """{"timed": [index of each call timed], "repeats": [n per call], "original": [[s per call, each round] per call],
    "candidate": [...], "seconds", "state": "" or what the candidate keeps, "note"}.
    `alarm(s)` arms the run's per-test limit `limit` around each timing (0 disarms);
    `tampered()` says what was patched in the harness (the rounds stop there)."""
    started = _ns()
    original, candidate = _Side(original_module, function), _Side(candidate_module, function)
    candidate.checked = True
    if original.function is None or candidate.function is None:
        return {"note": f"no function {function} to time"}
    calls = [_Call(_b64decode(blob)) for blob in blobs]
    if not calls:
        return {"note": "no captured calls to time"}
    sides = (original, candidate)
    watched = {id(side): _state_sizes(side) for side in sides}
    for call in calls:
        _warm_up(call, sides, watched, limit, alarm)
    # The calls whose rounds do not fit in the time (a test's large input, or the budget spent on
    # the cheaper calls) are left out and said: the executor times them beside the original
    # (`heavy`) and leaves them out of its next benchmarks with this time.
    kept = _fitting(calls, seconds)
    slow = [i for i in range(len(calls)) if i not in kept]
    slow_seconds = [calls[i].took[id(original)] / 1e9 for i in slow]  # the original's warm-up call of each
    if not kept:
        return {
            "note": f"each captured call takes too long for {speedup.MIN_ROUNDS} rounds in {seconds:g} s",
            "slow": slow,
            "slow_seconds": slow_seconds,
        }
    calls = [calls[i] for i in kept]
    timings: dict[int, list[list[float]]] = {id(side): [[] for _ in calls] for side in sides}
    rounds_started = _ns()  # the warm-up is not the rounds' time (bounded per call by `limit`)
    deadline = rounds_started + int(seconds * 1e9)
    hard_deadline = rounds_started + int(2 * seconds * 1e9)  # fewer rounds than the interval needs: no figure
    rounds = 0
    gc_was_on = _gc_isenabled()
    try:
        while rounds < MAX_ROUNDS:
            if rounds % _COLLECT_EVERY == 0:  # the cycles of the rounds before, outside any timing
                _gc_enable()
                _gc_collect()
                if tampered():  # a clock or this module replaced: no figure (the executor is told)
                    return {"note": "the harness was tampered with"}
            _gc_disable()
            for index, call in enumerate(calls):
                order = sides if (rounds + index) % 2 == 0 else sides[::-1]
                for side in order:
                    timings[id(side)][index].append(_timed(side, call, limit, alarm) / call.repeats / 1e9)
            rounds += 1
            now = _ns()
            if now > hard_deadline or (now > deadline and rounds >= speedup.MIN_ROUNDS):
                break
            if (
                rounds >= speedup.MIN_ROUNDS
                and speedup.estimate(timings[id(original)], timings[id(candidate)]).half_width() <= PRECISION
            ):
                break
    finally:
        if gc_was_on:
            _gc_enable()
    keeps = (
        ""
        if candidate.grew_on <= 1 or original.grew_on > 1
        else f"its module keeps more after each new call (on {candidate.grew_on} of {len(calls)} calls)"
    )
    return {
        "timed": kept,
        "repeats": [call.repeats for call in calls],
        "original": timings[id(original)],
        "candidate": timings[id(candidate)],
        "answers": [call.answers for call in calls],
        "seconds": (_ns() - started) / 1e9,
        "state": keeps,
        "note": "",
        "slow": slow,
        "slow_seconds": slow_seconds,
    }


def alone(
    module: Any, function: str, blobs: list[str], passes: int, limit: float, alarm: Any, once: int, chunks: list[int]
) -> dict[str, Any]:
    """The module's own function on every call but the last `once`, `passes` times, as the
    benchmark times it (so that both versions' runs carry the same overhead), `chunks[i]` calls
    per timing of call i; then each of the last `once` calls made once. {"passes", "seconds",
    "answers"}. The chunks come with the plan, the same for every run: sized here from a
    warm-up's timing, they varied from run to run, and with them the instructions counted
    (3% per call between two runs of the same code under valgrind)."""
    side = _Side(module, function)
    if side.function is None:
        return {"note": f"no function {function} to time"}
    side.checked = True  # either version: the executor checks the answers against the original's
    split = len(blobs) - max(0, min(once, len(blobs)))
    calls = [_Call(_b64decode(blob)) for blob in blobs[:split]]
    for call in calls:
        _warm_up(call, (side,), {}, limit, alarm)
    started = _ns()
    for index, call in enumerate(calls):
        chunk = max(1, min(MAX_REPEATS, chunks[index] if index < len(chunks) else 1))  # the plugin checked the list
        if call.mutates:  # a copy of the arguments for each call of a timing
            chunk = max(1, min(chunk, MAX_COPY_BYTES // max(len(call.blob), 1)))
        left = passes
        while left > 0:
            call.repeats = min(left, chunk)
            _timed(side, call, limit, alarm)
            left -= call.repeats
    seconds = (_ns() - started) / 1e9
    for blob in blobs[split:]:
        call = _Call(_b64decode(blob))
        _heavy_timing(side, call, limit, alarm)
    return {"passes": passes, "seconds": seconds, "answers": [call.answers for call in calls], "note": ""}


def heavy(
    original_module: Any,
    candidate_module: Any,
    function: str,
    blobs: list[str],
    limit: float,
    alarm: Any,
    tampered: Any = lambda: "",
) -> dict[str, Any]:
    """{"heavy": [[original wall, original CPU, candidate wall, candidate CPU] seconds, the mean
    of two timings, per call], "answers": [the candidate's, sampled, per call], "note"}."""
    original, candidate = _Side(original_module, function), _Side(candidate_module, function)
    candidate.checked = True
    if original.function is None or candidate.function is None:
        return {"note": f"no function {function} to time"}
    rows, calls = [], []
    for blob in blobs:
        call = _Call(_b64decode(blob))
        spent = {id(original): [0, 0], id(candidate): [0, 0]}
        for side in (original, candidate, candidate, original):
            wall, cpu = _heavy_timing(side, call, limit, alarm)
            spent[id(side)][0] += wall
            spent[id(side)][1] += cpu
        if tampered():
            return {"note": "the harness was tampered with"}
        rows.append([t / 2e9 for t in spent[id(original)] + spent[id(candidate)]])
        calls.append(call)
    return {"heavy": rows, "answers": [call.answers for call in calls], "note": ""}


def _heavy_timing(side: _Side, call: _Call, limit: float, alarm: Any) -> tuple[int, int]:
    """One call on fresh arguments, caches cleared: nanoseconds of wall and CPU time (what it
    returns read through when an iterator); its answer sampled when the side is checked."""
    args, kwargs = side.load(call.blob)
    for clear in side.caches:
        clear()
    alarm(limit)
    try:
        cpu_started, started = _cpu_ns(), _ns()
        try:
            result = side.function(*args, **kwargs)
            iterates = capture.is_iterator(result)
            if iterates:
                result = list(_islice(result, _MAX_ITEMS))
        except Exception as exc:  # noqa: BLE001 - what it raises is its answer, timed as such
            result, iterates = _Raised(exc), False
        wall, cpu = _ns() - started, _cpu_ns() - cpu_started
    finally:
        alarm(0)
    if side.checked:
        _sample(call, [result], iterates)
    return wall, cpu


def _warm_up(call: _Call, sides: tuple[_Side, ...], watched: dict[int, Any], limit: float, alarm: Any) -> None:
    """One call of each side: whether it returns an iterator, changes its arguments or
    keeps state; a second one when the first was quick (a first call pays for imports and
    caches warming: timed alone, it would make the call look far costlier than it is); then
    the repeat count that makes one timing last TARGET_NS."""
    fastest, slowest = math.inf, 0
    for side in sides:
        args, kwargs = side.load(call.blob)
        before = _dumps((args, kwargs), protocol=4)
        took = _warm_call(side, call, args, kwargs, limit, alarm)
        try:
            call.mutates = call.mutates or _dumps((args, kwargs), protocol=4) != before
        except Exception:  # noqa: BLE001 - arguments it left unpicklable: fresh ones each time
            call.mutates = True
        if id(side) in watched:
            sizes = _state_sizes(side)
            if any(size > watched[id(side)].get(key, -1) for key, size in sizes.items()):
                side.grew_on += 1
        if took < _AGAIN_BELOW_NS:
            took = min(took, _warm_call(side, call, *side.load(call.blob), limit, alarm))
        if id(side) in watched:
            watched[id(side)] = _state_sizes(side)
        call.took[id(side)] = took
        fastest, slowest = min(fastest, took), max(slowest, took)
    repeats = math.ceil(TARGET_NS / max(fastest, MIN_CALL_NS))
    if call.mutates:
        repeats = min(repeats, max(1, MAX_COPY_BYTES // max(len(call.blob), 1)))
    call.repeats = max(1, min(repeats, MAX_REPEATS))
    call.seconds = slowest / 1e9


def _warm_call(side: _Side, call: _Call, args: list[Any], kwargs: dict[str, Any], limit: float, alarm: Any) -> int:
    """Nanoseconds for one call (what it returns read through when an iterator)."""
    alarm(limit)
    start = _ns()
    try:
        result = side.function(*args, **kwargs)
        call.iterates[id(side)] = capture.is_iterator(result)
        if call.iterates[id(side)]:
            for _ in _islice(result, _MAX_ITEMS):
                pass
    except Exception:  # noqa: BLE001 - what it raises is its behaviour, timed as such
        call.iterates[id(side)] = False
    finally:
        alarm(0)
    return _ns() - start


def _fitting(calls: list[_Call], seconds: float) -> list[int]:
    """The calls timed: the cheapest first, as many as MIN_ROUNDS rounds of fit in `seconds`
    (at least the cheapest, when its own rounds fit by the hard deadline, twice `seconds`).
    Cheapest first, not a spread: one large input would otherwise crowd out most of the
    quick calls, and the figure rest on whichever few were left (an empty list, say)."""

    def cost(call: _Call) -> float:
        return 2 * call.repeats * call.seconds

    budget = max(seconds, 0.0) / speedup.MIN_ROUNDS
    kept: list[int] = []
    spent = 0.0
    for index in sorted(range(len(calls)), key=lambda i: cost(calls[i])):
        spent += cost(calls[index])
        if spent > budget and (kept or cost(calls[index]) > 2 * budget):
            break
        kept.append(index)
    return sorted(kept)


def _timed(side: _Side, call: _Call, limit: float, alarm: Any) -> int:
    """Nanoseconds for `call.repeats` calls of the side's function, arguments ready. What
    each call answered is kept (outside the timing, one of them is sampled: `call.answers`)."""
    if call.mutates:
        copies = [side.load(call.blob) for _ in range(call.repeats)]
    else:
        copies = [side.load(call.blob)] * call.repeats
    function, caches, iterates = side.function, side.caches, call.iterates.get(id(side), False)
    answers: list[Any] = []
    keep = answers.append
    if not (call.mutates or caches or iterates):  # the common case, with as little loop as timeit's
        elapsed = _plain_timing(function, copies[0], call.repeats, keep, limit, alarm)
        if elapsed is not None:
            if side.checked:
                _sample(call, answers, iterates)
            return elapsed
        answers.clear()
    alarm(limit)
    try:
        start = _ns()
        for args, kwargs in copies:
            for clear in caches:
                clear()
            try:
                result = function(*args, **kwargs)
                keep(list(_islice(result, _MAX_ITEMS)) if iterates else result)
            except Exception as exc:  # noqa: BLE001 - what it raises is its answer, timed as such
                keep(_Raised(exc))
        elapsed = _ns() - start
    finally:
        alarm(0)
    if side.checked:
        _sample(call, answers, iterates)
    return elapsed


def _plain_timing(
    function: Any, arguments: tuple[list[Any], dict[str, Any]], repeats: int, keep: Any, limit: float, alarm: Any
) -> int | None:
    """`repeats` calls on the same arguments, nothing else in the loop; None when one raised
    (the general loop times it then, what it raises kept as its answer)."""
    args, kwargs = arguments
    alarm(limit)
    try:
        start = _ns()
        if kwargs:
            for _ in _repeat(None, repeats):
                keep(function(*args, **kwargs))
        else:
            for _ in _repeat(None, repeats):
                keep(function(*args))
        return _ns() - start
    except Exception:  # noqa: BLE001 - timed again by the general loop
        return None
    finally:
        alarm(0)


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _sample(call: _Call, answers: list[Any], iterates: bool) -> None:
    """Keep one of the timing's answers, drawn after it (reservoir of SAMPLED per call, over
    all its timings): a candidate that answers right only sometimes is seen."""
    call.timings += 1
    slot = len(call.answers) if len(call.answers) < SAMPLED else _draw(call.timings)
    if slot >= SAMPLED:
        return
    answer = answers[_draw(len(answers))]
    if isinstance(answer, _Raised):
        outcome = capture.raised(answer.exc)
    elif iterates:
        outcome = ["returned", ["iter", [capture.canonical(item) for item in answer]]]
    else:
        outcome = ["returned", capture.canonical(answer)]
    if slot < len(call.answers):
        call.answers[slot] = outcome
    else:
        call.answers.append(outcome)


def _draw(below: int) -> int:
    """A number in [0, below), from the kernel's randomness (bound at import)."""
    return int.from_bytes(_urandom(8), "little") % max(below, 1)


def _caches(module: Any) -> list[Any]:
    """functools caches among the module's globals and its classes' attributes."""
    found, seen = [], set()

    def add(value: Any) -> None:
        value = getattr(value, "__func__", value)  # staticmethod, classmethod
        if isinstance(value, _LRU) and id(value) not in seen:
            seen.add(id(value))
            found.append(value)

    for value in list(vars(module).values()):
        add(value)
        if isinstance(value, type) and value.__module__ == module.__name__:
            for member in list(vars(value).values()):
                add(member)
    return found


def _state_sizes(side: _Side) -> dict[str, int]:
    """How much each mutable container the module keeps holds: its globals, the
    function's mutable defaults and closure cells."""
    sizes: dict[str, int] = {}
    for key, value in list(vars(side.module).items()):
        if isinstance(value, (dict, list, set, bytearray)) and not key.startswith("__"):
            sizes[f"global {key}"] = len(value)
    function = side.function
    defaults = list(getattr(function, "__defaults__", None) or ()) + list(
        (getattr(function, "__kwdefaults__", None) or {}).values()
    )
    cells = [cell.cell_contents for cell in getattr(function, "__closure__", None) or () if _has_contents(cell)]
    for index, value in enumerate(defaults + cells):
        if isinstance(value, (dict, list, set, bytearray)):
            sizes[f"kept {index}"] = len(value)
    return sizes


def _has_contents(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True
