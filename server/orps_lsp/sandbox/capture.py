"""The original is the oracle: record its calls, replay them on a candidate (sandbox side).

Capture (the original's own capture run): the executor appends two lines to the
module in the run's copy (`EPILOGUE`), which wrap the target function once the
module has defined everything, so every route the tests take to it (`from mod
import f`, `mod.f`, a method through its class, doctests, the module's own
callers) goes through the wrapper. For each outermost call the wrapper keeps
the arguments as they were before the call (pickled), what it returned or
raised, the arguments after it (mutation; `self` for a method) and what it
printed. Results are kept in their canonical form (`canonical`): plain JSON
data the executor compares without ever unpickling anything.

Replay (every run that judges a candidate, and the capture run itself, after the
tests): the plugin calls the function of the candidate's module on each captured
call, rebuilt from its pickle, and reports the same canonical outcome. The
executor compares the candidate's replay with the original's replay; a call on
which the original's replay disagrees with its own capture (it depends on the
state a test set up, or on time or chance) is no oracle and is left out.

Import-light: the plugin imports this before any project code runs.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import inspect
import io
import itertools
import math
import pickle
import re
import sys
import time
import types
from random import Random  # bound before any project code runs
from typing import Any, TextIO

MAX_CALLS = 200  # outermost calls recorded per capture run
MAX_CALL_BYTES = 64 * 1024  # one call's pickled arguments
MAX_TOTAL_BYTES = 4 * 1024 * 1024
MAX_ITEMS = 1000  # items read from an iterator, elements kept of a container
MAX_NODES = 20_000  # of one canonical value
MAX_STDOUT = 4000
MAX_REPR = 200
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

# Appended to the module in the capture run's copy only (the executor formats in the function).
EPILOGUE = (
    "\n\nimport orps_lsp.sandbox.capture as _orps_capture  # added for the capture run only\n"
    "_orps_capture.install(globals(), {function!r})\n"
)


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.not_captured: dict[str, int] = {}  # why -> how many calls
        self.bytes = 0
        self.depth = 0
        self.function = ""
        self.bound = False  # a method or classmethod: the first argument is self or cls
        self.installed = False

    def skip(self, why: str) -> None:
        self.not_captured[why] = self.not_captured.get(why, 0) + 1


RECORDER = _Recorder()


def install(namespace: dict[str, Any], function: str) -> None:
    """Wrap `function` ("f" or "Class.method") of the module whose globals are `namespace`."""
    owner: Any = None
    current: Any  # whatever the module's globals (or the class's dict) hold under that name
    parts = function.split(".")
    if len(parts) == 1:
        current = namespace.get(function)
    else:
        owner = namespace.get(parts[0])
        current = owner.__dict__.get(parts[1]) if isinstance(owner, type) else None
    kind = type(current) if isinstance(current, (staticmethod, classmethod)) else None
    func = current.__func__ if kind else current
    if not callable(func):
        RECORDER.skip("the function was not found in its module")
        return
    RECORDER.function = function
    RECORDER.bound = owner is not None and kind is not staticmethod
    RECORDER.installed = True
    wrapped = _recording(func)
    if kind is not None:
        wrapped = kind(wrapped)
    if owner is None:
        namespace[function] = wrapped
    else:
        setattr(owner, parts[1], wrapped)


def _recording(func: Any) -> Any:
    """A plain function (so that it binds `self` as a method would) that records each call."""

    @functools.wraps(func)
    def recorded(*args: Any, **kwargs: Any) -> Any:
        return _call(func, *args, **kwargs)

    recorded._orps_recording = True  # type: ignore[attr-defined]
    return recorded


def _call(func: Any, *args: Any, **kwargs: Any) -> Any:
    rec = RECORDER
    if rec.depth or len(rec.calls) >= MAX_CALLS:
        return func(*args, **kwargs)  # recursion, or enough calls: not recorded
    try:
        blob = pickle.dumps((args, kwargs), protocol=4)
    except Exception as exc:  # noqa: BLE001 - any argument may refuse
        rec.skip(f"an argument cannot be pickled ({type(exc).__name__})")
        return func(*args, **kwargs)
    if len(blob) > MAX_CALL_BYTES or rec.bytes + len(blob) > MAX_TOTAL_BYTES:
        rec.skip("the arguments are too large to keep")
        return func(*args, **kwargs)
    shown = _shown_call(rec.function, args, kwargs, rec.bound)
    shapes = [[shape(a) for a in args], {k: shape(v) for k, v in kwargs.items()}]
    rec.depth += 1
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(_Tee(printed, sys.stdout)):
            result = func(*args, **kwargs)
    except BaseException as exc:
        rec.depth -= 1
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) or type(exc).__name__ in (
            "PerTestTimeout",
            "Failed",
            "Skipped",
            "Exit",
        ):
            raise  # pytest's own control flow: not the function's behaviour
        _keep(blob, shown, shapes, raised(exc), args, kwargs, printed.getvalue())
        raise
    rec.depth -= 1
    result, outcome = returned(result)
    _keep(blob, shown, shapes, outcome, args, kwargs, printed.getvalue())
    return result


def _keep(
    blob: bytes, shown: str, shapes: list[Any], outcome: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any], printed: str
) -> None:
    RECORDER.bytes += len(blob)
    RECORDER.calls.append(
        {
            "args": base64.b64encode(blob).decode("ascii"),
            "call": shown,
            "shapes": shapes,
            "outcome": outcome,
            "after": canonical([list(args), kwargs]),
            "stdout": printed[:MAX_STDOUT],
        }
    )


_SCALARS = {type(None): "none", bool: "bool", int: "int", float: "float", str: "str", bytes: "bytes"}
_SHAPE_ITEMS = 50  # elements of a container looked at for its element shape
_SHAPE_CHARS = 64  # characters kept of the strings seen


def shape(value: Any, depth: int = 0) -> Any:
    """What kind of plain data an argument is, for generated inputs of the same kind
    (generate.py): `["int", lo, hi]`, `["str", longest, characters]`, `["list", element, longest]`,
    `["tuple", [each]]`, `["dict", key, value, longest]`, `["set", element, longest]`;
    None for an empty container's element; "other" for anything else (an object, a
    subclass, mixed elements): such arguments are kept as the tests gave them."""
    kind = type(value)
    if depth > 3:
        return "other"
    if kind in (int, float):
        return [_SCALARS[kind], value, value] if math.isfinite(value) else "other"
    if kind is str:
        return ["str", len(value), _characters(value)]
    if kind is bytes:
        return ["bytes", len(value)]
    if kind in _SCALARS:
        return [_SCALARS[kind]]
    if kind is tuple:
        return ["tuple", [shape(v, depth + 1) for v in value]] if len(value) <= 6 else "other"
    if kind in (list, set, frozenset):
        return [kind.__name__, _common(value, depth), len(value)]
    if kind is dict:
        return ["dict", _common(value.keys(), depth), _common(value.values(), depth), len(value)]
    return "other"


def _characters(text: str) -> str:
    """The characters a string uses (some), for strings drawn like the tests' own."""
    return "".join(sorted(c for c in set(text) if not 0xD800 <= ord(c) <= 0xDFFF))[:_SHAPE_CHARS]


def _common(items: Any, depth: int) -> Any:
    """The one shape of a container's elements (None when it has none)."""
    found = None
    for item in itertools.islice(items, _SHAPE_ITEMS):
        found = unify(found, shape(item, depth + 1))
        if found == "other":
            break
    return found


def unify(a: Any, b: Any) -> Any:
    """One shape covering both ("other" where they are of different kinds)."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if a == "other" or b == "other" or a[0] != b[0]:
        return "other"
    kind = a[0]
    if kind in ("int", "float"):
        return [kind, min(a[1], b[1]), max(a[2], b[2])]
    if kind == "str":
        return [kind, max(a[1], b[1]), _characters(a[2] + b[2])]
    if kind == "bytes":
        return [kind, max(a[1], b[1])]
    if kind in ("none", "bool"):
        return a
    if kind == "tuple":
        return ["tuple", [unify(x, y) for x, y in zip(a[1], b[1])]] if len(a[1]) == len(b[1]) else "other"
    if kind == "dict":
        return ["dict", unify(a[1], b[1]), unify(a[2], b[2]), max(a[3], b[3])]
    return [kind, unify(a[1], b[1]), max(a[2], b[2])]


class _Tee(io.TextIOBase):
    """Prints reach the test's own stdout (capsys) as well as the record."""

    def __init__(self, record: io.StringIO, through: TextIO) -> None:
        self._record, self._through = record, through

    def write(self, text: str) -> int:
        self._record.write(text)
        return self._through.write(text)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self._through.flush()


def returned(result: Any) -> tuple[Any, list[Any]]:
    """(what the caller gets, the canonical outcome). An iterator is read (up to
    MAX_ITEMS) for the record; the caller gets the same items."""
    if is_iterator(result):
        items = list(itertools.islice(result, MAX_ITEMS))
        return itertools.chain(items, result), ["returned", ["iter", [canonical(i) for i in items]]]
    return result, ["returned", canonical(result)]


def raised(exc: BaseException) -> list[Any]:
    return ["raised", type(exc).__qualname__, _ADDRESS.sub("", str(exc))[:MAX_REPR]]


def is_iterator(value: Any) -> bool:
    return isinstance(value, (types.GeneratorType, map, filter, zip, itertools.chain)) or (
        hasattr(type(value), "__next__")
        and hasattr(type(value), "__iter__")
        and not isinstance(value, (str, bytes, list, tuple, dict, set, frozenset, io.IOBase))
    )


def canonical(value: Any) -> Any:
    """Plain JSON data that two values are compared by: type names kept (2 is not
    2.0), containers element by element, sets and dicts without order (as `==`),
    objects by their attributes, anything else by its repr without addresses."""
    budget = [MAX_NODES]
    return _canonical(value, budget, set())


def _canonical(value: Any, budget: list[int], active: set[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        return ["truncated"]
    if value is None or isinstance(value, bool):
        return ["const", repr(value)]
    kind = type(value)
    if kind is int:
        return ["int", str(value)]
    if kind is float:
        return ["float", value if math.isfinite(value) else repr(value)]
    if kind is complex:
        return ["complex", repr(value)]
    if kind is str:
        return ["str", value]
    if kind in (bytes, bytearray):
        return [kind.__name__, base64.b64encode(bytes(value)).decode("ascii")]
    if id(value) in active:
        return ["cycle"]
    active.add(id(value))
    try:
        return _container(value, kind, budget, active)
    finally:
        active.discard(id(value))


def _container(value: Any, kind: type, budget: list[int], active: set[int]) -> Any:
    name = f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return [name, [_canonical(v, budget, active) for v in itertools.islice(value, MAX_ITEMS)], len(value)]
    if isinstance(value, tuple):  # a namedtuple: by its fields
        return [name, [_canonical(v, budget, active) for v in value], len(value)]
    if isinstance(value, dict):
        pairs = [
            [_canonical(k, budget, active), _canonical(v, budget, active)] for k, v in itertools.islice(value.items(), MAX_ITEMS)
        ]
        return [name, sorted(pairs, key=repr), len(value)]
    if isinstance(value, (set, frozenset)):
        return [name, sorted((_canonical(v, budget, active) for v in itertools.islice(value, MAX_ITEMS)), key=repr), len(value)]
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray):
        return ["ndarray", str(value.dtype), list(value.shape), _canonical(value.tolist(), budget, active)]
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series)):
        return [name, _canonical(value.to_dict(), budget, active)]
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict) and not isinstance(value, (type, types.ModuleType, types.FunctionType)):
        return [name, "object", _canonical(dict(fields), budget, active)]
    slots = [s for k in kind.__mro__ for s in getattr(k, "__slots__", ()) if isinstance(s, str)]
    if slots:
        return [name, "object", _canonical({s: getattr(value, s, None) for s in slots}, budget, active)]
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001
        text = f"<unrepresentable: {type(exc).__name__}>"
    return [name, "repr", _ADDRESS.sub("", text)[:MAX_REPR]]


def _shown_call(function: str, args: tuple[Any, ...], kwargs: dict[str, Any], bound: bool) -> str:
    """`f([2], [1, 2])` as the counterexample shows it (bounded)."""
    shown_args = args[1:] if bound and args else args  # a method's self goes before the dot
    try:
        parts = [repr(a) for a in shown_args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    except Exception:  # noqa: BLE001
        parts = ["..."]
    text = f"{function.split('.')[-1] if '.' in function else function}({', '.join(parts)})"
    text = _ADDRESS.sub("", text)
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 4] + "...)"


def replay(function: Any, blobs: list[str], seconds: float, per_call: float, alarm: Any) -> list[dict[str, Any]]:
    """Call `function` on each captured call; the outcomes in the capture's form.

    `alarm(seconds)` arms the per-call limit (0 disarms); the whole replay stops
    after `seconds`, and the calls it did not reach are reported as such.
    """
    return _replay(function, [functools.partial(_load, blob) for blob in blobs], seconds, per_call, alarm, None)


def replay_generated(
    function: Any,
    name: str,
    bound: bool,
    blobs: list[str],
    inputs: list[dict[str, Any]],
    seconds: float,
    per_call: float,
    alarm: Any,
) -> list[dict[str, Any]]:
    """Call `function` on each generated input (generate.py): a captured call (`base`, an
    index into `blobs`) with some arguments replaced by drawn values (`values`, pickled
    `[{position: value}, {name: value}]`). Each outcome also says how the call reads
    (`name` and `bound` as `resolve` gives them)."""
    loads = [functools.partial(_load_generated, blobs, item) for item in inputs]
    return _replay(function, loads, seconds, per_call, alarm, (name, bound))


def _load(blob: str) -> tuple[list[Any], dict[str, Any]]:
    args, kwargs = pickle.loads(base64.b64decode(blob))  # noqa: S301 - the original's own arguments, in the sandbox
    return list(args), dict(kwargs)


def _load_generated(blobs: list[str], item: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    args, kwargs = _load(blobs[int(item["base"])])
    positional, named = pickle.loads(base64.b64decode(item["values"]))  # noqa: S301 - drawn by the executor
    for position, value in positional.items():
        args[int(position)] = value
    kwargs.update(named)
    for recipe in item.get("derive", ()):
        _derive(args, kwargs, recipe)
    return args, kwargs


def _derive(args: list[Any], kwargs: dict[str, Any], recipe: list[Any]) -> None:
    """One argument made from another of the same call (generate.py's recipes): a piece of a
    string or list (sliced, rotated, reversed, one element swapped for another of the source),
    or one element of a list (ordered sources only: a set's order differs between processes).
    What relates a function's arguments (a needle to its haystack, a key to its list) is
    what values drawn apart almost never hit. The recipe's number seeds the choices, the
    same in every process."""
    (target_kind, target), (source_kind, source), op, number = recipe
    value = args[source] if source_kind == "p" else kwargs[source]
    size = len(value)
    choose = Random(int(number))
    if op == "element":
        if not size:
            return
        derived = value[choose.randrange(size)]
    else:  # "piece"
        first = choose.randrange(size) if size else 0
        derived = value[first : first + choose.randint(1, max(size - first, 1))]
        if len(derived) > 1 and choose.random() < 0.5:
            turn = choose.randrange(1, len(derived))
            derived = derived[turn:] + derived[:turn]
        if choose.random() < 0.2:
            derived = derived[::-1]
        if derived and choose.random() < 0.25:
            where, other = choose.randrange(len(derived)), choose.randrange(size)
            derived = derived[:where] + value[other : other + 1] + derived[where + 1 :]
    if target_kind == "p":
        args[target] = derived
    else:
        kwargs[target] = derived


def _replay(
    function: Any, loads: list[Any], seconds: float, per_call: float, alarm: Any, shown: tuple[str, bool] | None
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    stopped = ""
    for index, load in enumerate(loads):
        if not stopped and time.monotonic() > deadline:
            stopped = "the replay's time budget ran out"
        if stopped:
            results.append({"index": index, "outcome": ["not_replayed", stopped]})
            continue
        try:
            args, kwargs = load()
        except Exception as exc:  # noqa: BLE001 - a class the candidate's module lacks, say
            results.append({"index": index, "outcome": ["unloadable", f"{type(exc).__name__}: {exc}"[:MAX_REPR]]})
            continue
        result: dict[str, Any] = {"index": index}
        if shown:
            result["call"] = _shown_call(shown[0], tuple(args), kwargs, shown[1])
        printed = io.StringIO()
        alarm(per_call)
        try:
            with contextlib.redirect_stdout(printed):
                _, outcome = returned(function(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - what it raised is its behaviour
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                outcome = ["raised", type(exc).__qualname__, ""]
            elif type(exc).__name__ == "PerTestTimeout":
                outcome = ["timed_out", f"timed out after {per_call:g} s"]
                # One call that hangs says enough (the original's replays finished); the
                # others would only hang as long each.
                stopped = "stopped after a call that timed out"
            else:
                outcome = raised(exc)
        finally:
            alarm(0)
        result.update(outcome=outcome, after=canonical([args, kwargs]), stdout=printed.getvalue()[:MAX_STDOUT])
        results.append(result)
    return results


def beside(source: str, candidate_module: Any) -> types.ModuleType:
    """The original module, loaded from its source next to the candidate's (same package,
    same file for relative paths). In sys.modules only while it runs (dataclasses and
    typing look their module up there); after that nothing else sees it."""
    module = types.ModuleType(candidate_module.__name__)
    module.__file__ = getattr(candidate_module, "__file__", None)
    module.__package__ = getattr(candidate_module, "__package__", None)
    with standing_in(module):
        exec(compile(source, f"{module.__file__} (original)", "exec"), module.__dict__)  # noqa: S102 - the user's own code
    return module


@contextlib.contextmanager
def standing_in(module: types.ModuleType) -> Any:
    """`module` in sys.modules under its name for a while (then what was there before)."""
    name = module.__name__
    saved = sys.modules.get(name)
    sys.modules[name] = module
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved


def resolve(module: Any, function: str) -> tuple[Any, bool]:
    """The plain function behind `function` of `module`, called as the capture saw it
    (a method's `self`, a classmethod's `cls` first), and whether it takes that first
    argument; None when missing."""
    target = module
    for part in function.split("."):
        try:
            target = inspect.getattr_static(target, part)
        except AttributeError:
            return None, False
    bound = "." in function and not isinstance(target, staticmethod)
    target = getattr(target, "__func__", target)  # staticmethod, classmethod
    if getattr(target, "_orps_recording", False):
        target = target.__wrapped__  # the capture run replays the function itself, unrecorded
    return (target, bound) if callable(target) else (None, False)
