"""CrossHair as one more oracle (sandbox side): its symbolic execution looks for an input
on which the original and the candidate differ, inside the candidate's run.

CrossHair only proposes. What it finds comes back as the inputs it realised (reprs of
plain data), and the executor runs them like generated inputs: the original in its own
run, then the candidate, compared as every other call is (oracle.py). Nothing CrossHair
(or the candidate, in this process) says is believed: a candidate can at most hide a
difference here, never pass because of this check.

The arguments' types come from the function's own annotations, else from the shapes
of the captured calls (capture.shape): untyped code is checked too. Methods are not
(`self` is no plain data), nor arguments that are neither typed nor plain data.

Imported by the plugin only when a run asks for it; CrossHair is optional.
"""

from __future__ import annotations

import inspect
import sys
import time
import typing
from typing import Any

MAX_FOUND = 3  # inputs sent back per run: the first differences are enough to refuse


def search(
    original_source: str, candidate_module: Any, function: str, layout: dict[str, Any], seconds: float, compare_messages: bool
) -> dict[str, Any]:
    """{"inputs": [{"base", "positional": {pos: repr}, "named": {name: repr}}], "seconds",
    "note"}: the inputs CrossHair found the two to differ on, within `seconds`."""
    started = time.monotonic()
    try:
        import crosshair.core_and_libs  # noqa: F401 - registers CrossHair's models of the standard library
        from crosshair.diff_behavior import ExceptionEquivalenceType, diff_behavior_with_signature
        from crosshair.options import DEFAULT_OPTIONS
    except ImportError:
        return {"inputs": [], "seconds": 0.0, "note": "CrossHair is not installed where the tests run"}
    from . import capture  # the plugin has it loaded already

    original_module = capture.beside(original_source, candidate_module)
    original, bound = capture.resolve(original_module, function)
    candidate, _ = capture.resolve(candidate_module, function)
    if original is None or candidate is None:
        return {"inputs": [], "seconds": 0.0, "note": f"no function {function} to compare"}
    if bound:
        return {"inputs": [], "seconds": 0.0, "note": "CrossHair does not check methods here"}
    signature = _signature(original, layout)
    if isinstance(signature, str):
        return {"inputs": [], "seconds": 0.0, "note": signature}
    options = DEFAULT_OPTIONS.overlay(
        per_condition_timeout=seconds, per_path_timeout=max(0.5, seconds / 4), max_uninteresting_iterations=sys.maxsize
    )
    equivalence = ExceptionEquivalenceType.TYPE_AND_MESSAGE if compare_messages else ExceptionEquivalenceType.SAME_TYPE
    diffs = diff_behavior_with_signature(original, candidate, signature, options, equivalence)
    positional = [name for name, p in signature.parameters.items() if p.kind is not p.KEYWORD_ONLY]
    found = []
    for diff in list(diffs)[:MAX_FOUND]:
        found.append(
            {
                "base": layout["base"],
                "positional": {i: diff.args[name] for i, name in enumerate(positional) if name in diff.args},
                "named": {name: text for name, text in diff.args.items() if name not in positional},
            }
        )
    return {"inputs": found, "seconds": round(time.monotonic() - started, 2), "note": ""}


_PLAIN = {"int": int, "float": float, "str": str, "bytes": bytes, "bool": bool, "none": type(None)}
# Subscripted at run time with the element types a shape gives (values, not static types: Any).
_CONTAINERS: dict[str, Any] = {"list": typing.List, "set": typing.Set, "frozenset": typing.FrozenSet, "dict": typing.Dict}


def annotation(shape: Any) -> Any:
    """The type a captured argument's shape describes (None: no plain type)."""
    if not isinstance(shape, list) or not shape:
        return None
    kind = shape[0]
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "tuple":
        parts = [annotation(s) for s in shape[1]]
        return None if any(p is None for p in parts) else typing.Tuple[tuple(parts)] if parts else typing.Tuple[()]
    if kind in ("list", "set", "frozenset"):
        element = annotation(shape[1])
        return _CONTAINERS[kind][element] if element is not None else None
    if kind == "dict":
        key, value = annotation(shape[1]), annotation(shape[2])
        return _CONTAINERS["dict"][key, value] if key is not None and value is not None else None
    return None


def _signature(function: Any, layout: dict[str, Any]) -> inspect.Signature | str:
    """The parameters the captured calls pass (the others keep their defaults), typed by
    the function's annotations or else by the calls' shapes; a reason when one cannot be."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - a hint that does not resolve: the shapes stand in
        hints = {}
    parameters = list(inspect.signature(function).parameters.values())
    chosen: list[inspect.Parameter] = []
    for position, shape in enumerate(layout["positional"]):
        if position >= len(parameters) or parameters[position].kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.VAR_KEYWORD,
        ):
            return "CrossHair needs each argument by name (a *args call)"
        chosen.append(parameters[position])
    by_name = {p.name: p for p in parameters}
    for name in sorted(layout["named"]):
        if name not in by_name or by_name[name].kind is inspect.Parameter.POSITIONAL_ONLY:
            return "CrossHair needs each argument by name (a **kwargs call)"
        chosen.append(by_name[name].replace(kind=inspect.Parameter.KEYWORD_ONLY))
    shapes = dict(
        zip((p.name for p in chosen), list(layout["positional"]) + [layout["named"][n] for n in sorted(layout["named"])])
    )
    typed = []
    for parameter in chosen:
        kind = hints.get(parameter.name) or annotation(shapes[parameter.name])
        if kind is None:
            return f"CrossHair needs a type for {parameter.name} (not annotated, not plain data in the tests)"
        typed.append(parameter.replace(annotation=kind, default=inspect.Parameter.empty))
    return inspect.Signature(typed)
