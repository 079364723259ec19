"""Inputs the tests do not hold (executor side): drawn with Hypothesis from the shapes
of the original's captured calls, then run on the original and on every candidate
like the captured calls themselves (oracle.py).

A generated input is a captured call with its plain-data arguments replaced by
values of the same kind (capture.shape): integers and floats around and beyond the
range the tests used (negatives included), strings from the tests' own characters
and from all of unicode, containers from empty to twice the longest seen, with
duplicates. Arguments that are not plain data (`self`, a class instance, a mix of
kinds) stay as the test passed them. Where one argument can be made from another of
the same call (a string from a piece of another string, an element from a list), some
inputs are: a recipe the sandbox applies (capture._derive), drawn here like the values,
on drawn or captured sources; values drawn apart almost never relate as a needle to
its haystack. Drawn values are builtin types only, pickled
here and unpickled in the sandbox; nothing the sandbox sent is ever unpickled here.

Deterministic: the same captured calls, count and seed draw the same inputs.
"""

from __future__ import annotations

import ast
import base64
import math
import pickle
from dataclasses import dataclass
from typing import Any

from . import capture

_MIN_SIZE = 8  # containers and strings are drawn up to max(twice the longest seen, this)
_MIN_SPAN = 3  # integers: at least -3..3 around what was seen
_SMALL = 10  # numbers: half are drawn from -10..10


@dataclass
class Drawn:
    inputs: list[dict[str, Any]]  # {"base": index of the captured call, "values": pickled replacements}
    note: str = ""  # why none were drawn, when so


def draw_inputs(shapes: list[Any], count: int, seed: int) -> Drawn:
    """Up to `count` inputs from the captured calls whose argument shapes are `shapes`
    (one `[[positional...], {name: ...}]` per call, in the oracle's order), smallest first."""
    if count <= 0 or not shapes:
        return Drawn([], "" if count > 0 else "generated inputs are off")
    try:
        from hypothesis import strategies as st
    except ImportError:
        return Drawn([], "no generated inputs: Hypothesis is not installed (pip install hypothesis)")
    groups = _groups(shapes)
    strategies = [
        s for s in (_group_strategy(st, bases, positional, named) for bases, positional, named in groups) if s is not None
    ]
    if not strategies:
        return Drawn([], "no generated inputs: no argument is plain data (numbers, strings, containers of them)")
    drawn: dict[bytes, tuple[float, int, dict[str, Any]]] = {}
    per_group = max(1, math.ceil(count / len(strategies)))
    for strategy in strategies:
        # A few more than needed: Hypothesis repeats itself.
        for base, values, derive in _examples(strategy, per_group + per_group // 2, seed):
            blob = pickle.dumps(values, protocol=4)
            item = {"base": base, "values": base64.b64encode(blob).decode("ascii")}
            if derive:
                item["derive"] = [derive]
            drawn.setdefault(blob + repr(derive).encode(), (_magnitude(values), len(blob), item))
    # Smallest first: the shortest counterexamples, and the inputs the original answers in
    # time before those it does not (a replay stops at its first call that hangs).
    return Drawn([item for _, _, item in sorted(drawn.values(), key=lambda entry: entry[:2])][:count])


def symbolic_layout(shapes: list[Any]) -> dict[str, Any] | None:
    """How CrossHair's inputs are passed (symbolic.py): as the most common way the tests
    call the function, with those calls' argument shapes; None when no call has plain data."""
    groups = [g for g in _groups(shapes) if any(_strategy_kind(s) for s in g[1]) or any(map(_strategy_kind, g[2].values()))]
    if not groups:
        return None
    bases, positional, named = max(groups, key=lambda group: len(group[0]))
    return {"base": bases[0], "positional": positional, "named": named}


def _strategy_kind(shape: Any) -> bool:
    return isinstance(shape, list) and not _has_other(shape)


def proposed_inputs(found: list[Any]) -> tuple[list[dict[str, Any]], int]:
    """CrossHair's proposals (reprs of plain data) as generated inputs, and how many were
    not literals (those are dropped: nothing here evaluates code)."""
    inputs, dropped = [], 0
    for proposal in found:
        try:
            positional = {int(p): ast.literal_eval(text) for p, text in proposal["positional"].items()}
            named = {str(n): ast.literal_eval(text) for n, text in proposal["named"].items()}
            values = pickle.dumps((positional, named), protocol=4)
            inputs.append({"base": int(proposal["base"]), "values": base64.b64encode(values).decode("ascii")})
        except (KeyError, TypeError, ValueError, SyntaxError, AttributeError, MemoryError, RecursionError, pickle.PicklingError):
            dropped += 1
    return inputs, dropped


def _groups(shapes: list[Any]) -> list[tuple[list[int], list[Any], dict[str, Any]]]:
    """Calls alike in how they pass their arguments (how many positional, which names) and in
    the kinds of those arguments (lists of numbers apart from lists of strings), with each
    argument's shape unified over the group."""
    groups: list[tuple[tuple[int, tuple[str, ...]], list[int], list[Any], dict[str, Any]]] = []
    for index, call_shapes in enumerate(shapes):
        if not (
            isinstance(call_shapes, list)
            and len(call_shapes) == 2
            and isinstance(call_shapes[0], list)
            and isinstance(call_shapes[1], dict)
        ):
            continue
        positional, named = call_shapes
        key = (len(positional), tuple(sorted(named)))
        for group_key, bases, merged, merged_named in groups:
            if group_key != key:
                continue
            together = [capture.unify(a, b) for a, b in zip(merged, positional)]
            together_named = {n: capture.unify(merged_named[n], named[n]) for n in named}
            if all(_compatible(a, b, c) for a, b, c in zip(merged, positional, together)) and all(
                _compatible(merged_named[n], named[n], together_named[n]) for n in named
            ):
                bases.append(index)
                merged[:] = together
                merged_named.update(together_named)
                break
        else:
            groups.append((key, [index], list(positional), dict(named)))
    return [(bases, merged, merged_named) for _, bases, merged, merged_named in groups]


def _compatible(a: Any, b: Any, together: Any) -> bool:
    """Whether unifying loses nothing that either shape could draw."""
    return not _has_other(together) or _has_other(a) or _has_other(b)


def _has_other(shape: Any) -> bool:
    if shape == "other":
        return True
    return isinstance(shape, list) and any(_has_other(part) for part in shape if isinstance(part, list) or part == "other")


def _group_strategy(st: Any, bases: list[int], positional: list[Any], named: dict[str, Any]) -> Any:
    """(base index, ({position: value}, {name: value}), recipe or None) for the group, or
    None when no argument of it can be drawn."""
    drawn_positional = {p: s for p, s in ((p, _strategy(st, shape)) for p, shape in enumerate(positional)) if s is not None}
    drawn_named = {n: s for n, s in ((n, _strategy(st, shape)) for n, shape in named.items()) if s is not None}
    if not drawn_positional and not drawn_named:
        return None
    values = st.tuples(st.fixed_dictionaries(drawn_positional), st.fixed_dictionaries(drawn_named))
    plain = st.tuples(st.sampled_from(bases), values, st.none())
    arguments = [(["p", p], shape) for p, shape in enumerate(positional)] + [
        (["n", n], shape) for n, shape in sorted(named.items())
    ]
    pairs = [
        (target, source, op)
        for target, target_shape in arguments
        for source, source_shape in arguments
        if target != source and (op := _derivation(target_shape, source_shape))
    ]
    if not pairs:
        return plain
    derived = st.tuples(
        st.sampled_from(bases), values, st.sampled_from(pairs).flatmap(lambda pair: _recipe(st, *pair)), st.booleans()
    ).map(_without_derived)
    return st.one_of(plain, derived)


def _derivation(target: Any, source: Any) -> str:
    """How the argument shaped `target` can be made from the one shaped `source` ("" when not)."""
    if not (isinstance(target, list) and isinstance(source, list)):
        return ""
    if source[0] in ("str", "bytes") and target[0] == source[0]:
        return "piece"
    if source[0] == "list" and target[0] == "list" and not _has_other(capture.unify(target[1], source[1])):
        return "piece"
    if (
        source[0] == "list"
        and isinstance(source[1], list)
        and target[0] == source[1][0]
        and not _has_other(capture.unify(target, source[1]))
    ):
        return "element"
    return ""


def _recipe(st: Any, target: list[Any], source: list[Any], op: str) -> Any:
    """A recipe for capture._derive; its number seeds the piece's choices there (drawn as
    one number: Hypothesis leans each small choice to its simplest value)."""
    return st.tuples(st.just(target), st.just(source), st.just(op), st.integers(0, 2**32 - 1)).map(list)


def _without_derived(drawn: tuple[Any, ...]) -> tuple[Any, ...]:
    """The derived argument is not drawn; nor, half the time, its source (the tests' own
    value is kept: a needle in the haystack the tests used)."""
    base, (positional, named), recipe, keep_source = drawn
    dropped = [recipe[0]] + ([recipe[1]] if keep_source else [])
    positional = {p: v for p, v in positional.items() if ["p", p] not in dropped}
    named = {n: v for n, v in named.items() if ["n", n] not in dropped}
    return base, (positional, named), recipe


def _strategy(st: Any, shape: Any) -> Any:
    """Values of the kind `shape` describes (None where it cannot be drawn)."""
    if not isinstance(shape, list) or not shape:
        return None
    kind = shape[0]
    if kind == "none":
        return st.none()
    if kind == "bool":
        return st.booleans()
    if kind == "int":
        low, high = int(shape[1]), int(shape[2])
        span = max(high - low, _MIN_SPAN)
        # Half of them small (0, 1, -1 ...: where rewrites break), whatever range the tests used.
        return st.one_of(st.integers(-_SMALL, _SMALL), st.integers(min(low, -_MIN_SPAN) - span, max(high, _MIN_SPAN) + span))
    if kind == "float":
        low_f, high_f = float(shape[1]), float(shape[2])
        span_f = max(high_f - low_f, 1.0)
        return st.one_of(
            st.floats(-_SMALL, _SMALL, allow_nan=False, allow_infinity=False),
            st.floats(min(low_f, -1.0) - span_f, max(high_f, 1.0) + span_f, allow_nan=False, allow_infinity=False),
        )
    if kind == "str":
        size = _size(shape[1])
        seen = shape[2] if len(shape) > 2 and isinstance(shape[2], str) and shape[2] else ""
        anything = st.text(max_size=size)
        return st.one_of(st.text(alphabet=seen, max_size=size), anything) if seen else anything
    if kind == "bytes":
        return st.binary(max_size=_size(shape[1]))
    if kind == "tuple":
        parts = [_strategy(st, s) for s in shape[1]]
        return st.tuples(*parts) if all(p is not None for p in parts) else None
    if kind in ("list", "set", "frozenset"):
        element = _strategy(st, shape[1])
        if element is None:
            return None
        size = _size(shape[2])
        if kind == "list":
            return st.lists(element, max_size=size)
        return (st.sets if kind == "set" else st.frozensets)(element, max_size=size)
    if kind == "dict":
        key, value = _strategy(st, shape[1]), _strategy(st, shape[2])
        return st.dictionaries(key, value, max_size=_size(shape[3])) if key is not None and value is not None else None
    return None


def _magnitude(value: Any) -> float:
    """How big a drawn value is, as its cost tends to grow: a number by its size, a
    container by its length and its elements."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return abs(value)
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, dict):
        return len(value) + sum(_magnitude(k) + _magnitude(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return len(value) + sum(_magnitude(v) for v in value)
    return 0


def _size(longest: Any) -> int:
    return max(2 * int(longest), _MIN_SIZE)


def _examples(strategy: Any, count: int, seed: int) -> list[Any]:
    """`count` examples of `strategy`, the same ones for the same seed (Hypothesis's own
    generation: its boundary values first, no database, no shrinking)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as seeded

    found: list[Any] = []

    @seeded(seed)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(strategy)
    def collect(example: Any) -> None:
        found.append(example)

    collect()
    return found
