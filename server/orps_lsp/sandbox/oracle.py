"""The original is the oracle (executor side): which captured calls and generated inputs
can judge, and how a candidate's replay of them compares with the original's.

Everything here reads the canonical JSON data of capture.py; nothing is ever
unpickled in this process. Floats compare with a tolerance (NaN equals NaN),
exceptions by type, everything else exactly (types included: 2 is not 2.0).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from ..report import BehaviourCheck, CaptureSummary
from .protocol import replay_plan
from .results import RunRecords

REL_TOLERANCE = 1e-9
ABS_TOLERANCE = 1e-12
_SHOWN_DIFFERENCES = 3
_SHOWN_CHARS = 160


@dataclass
class Oracle:
    """The calls that judge: each with the original's replayed outcome."""

    blobs: list[str] = field(default_factory=list)  # pickled arguments, opaque here, in replay order
    calls: list[str] = field(default_factory=list)  # how each call reads: `f([2], [1, 2])`
    expected: list[dict[str, Any]] = field(default_factory=list)  # the original's replay of each
    shapes: list[Any] = field(default_factory=list)  # each call's argument shapes (capture.shape)
    # Inputs drawn from those calls (generate.py) on which the original gives one outcome, twice.
    generated: list[dict[str, Any]] = field(default_factory=list)
    generated_calls: list[str] = field(default_factory=list)
    generated_expected: list[dict[str, Any]] = field(default_factory=list)
    summary: CaptureSummary = field(default_factory=CaptureSummary)
    compare_messages: bool = False  # exceptions alike by type and message (else by type)
    generated_label: str = " (a generated input)"  # after a generated input's call in a difference

    def plan(self, *, solve: bool = False) -> dict[str, Any] | None:
        """What a candidate's run replays (plugin._read_replay); None: nothing. Solve: only
        the generated inputs (the stub's calls are their bases, not expectations)."""
        if not self.blobs or (solve and not self.generated):
            return None
        return replay_plan(self.blobs, self.generated, bases_only=solve)


def build_oracle(records: RunRecords, *, compare_messages: bool = False) -> Oracle:
    """From the original's capture run: calls whose two replays match what the tests saw
    (a call that depends on a test's setup, on time or on chance is no oracle)."""
    oracle = Oracle(
        summary=CaptureSummary(captured=len(records.calls), not_captured=dict(records.not_captured)),
        compare_messages=compare_messages,
    )
    alike = functools.partial(_difference, compare_messages=compare_messages)
    if not records.capture_installed:
        oracle.summary.note = "the function could not be wrapped for the capture"
        return oracle
    if records.replay_unavailable:
        oracle.summary.note = f"no replay: {records.replay_unavailable}"
        return oracle
    for index in sorted(records.calls):
        call, again, third = records.calls[index], records.replays.get(index), records.replays_again.get(index)
        if (
            again is None
            or third is None
            or again.get("outcome", [""])[0] in ("not_replayed", "timed_out", "unloadable")
            or alike(call, again)
            or alike(again, third)
        ):
            oracle.summary.unstable += 1
            continue
        oracle.blobs.append(str(call.get("args", "")))
        oracle.calls.append(str(call.get("call", "the function")))
        oracle.expected.append(again)
        oracle.shapes.append(call.get("shapes"))
    oracle.summary.usable = len(oracle.blobs)
    return oracle


# Outcomes of the original on a generated input that say nothing about the function.
_NO_EXPECTATION = ("not_replayed", "timed_out", "unloadable")
_ENVIRONMENT_ERRORS = ("RecursionError", "MemoryError")


def add_generated(oracle: Oracle, inputs: list[dict[str, Any]], records: RunRecords) -> None:
    """From the original's run on generated inputs: those it answers alike twice, in
    time (an input it times out on, or raises MemoryError, says nothing)."""
    skipped: dict[str, int] = {}
    for index, item in enumerate(inputs):
        first, again = records.generated.get(index), records.generated_again.get(index)
        outcome = (first or {}).get("outcome") or ["not_replayed", ""]
        why = ""
        if records.replay_unavailable or first is None or again is None:
            why = "the original's run did not reach them"
        elif outcome[0] in _NO_EXPECTATION:
            why = "the original did not finish them in time" if outcome[0] != "unloadable" else "they did not load"
        elif outcome[0] == "raised" and outcome[1] in _ENVIRONMENT_ERRORS:
            why = f"the original ran out of {'stack' if outcome[1] == 'RecursionError' else 'memory'}"
        elif _difference(first, again, compare_messages=oracle.compare_messages):
            why = "the original gave two different answers"
        if why:
            skipped[why] = skipped.get(why, 0) + 1
            continue
        assert first is not None, "a missing outcome is skipped above"
        oracle.generated.append(item)
        oracle.generated_calls.append(str(first.get("call", "the function")))
        oracle.generated_expected.append(first)
    oracle.summary.generated = len(oracle.generated)
    oracle.summary.generated_skipped = skipped


def compare(oracle: Oracle, records: RunRecords) -> BehaviourCheck:
    """A candidate's replay (the records of its run) against the oracle."""
    check = BehaviourCheck()
    if records.replay_unavailable:
        # The original's replay ran; a candidate's that cannot is refused (fail closed: a
        # candidate must not escape the comparison by breaking it).
        check.different = check.compared = len(oracle.blobs)
        check.generated_different = check.generated_compared = len(oracle.generated)
        check.differences.append(f"could not be replayed: {records.replay_unavailable}")
        return check
    for index, expected in enumerate(oracle.expected):
        verdict = _judge(check, oracle.calls[index], "", expected, records.replays.get(index), oracle.compare_messages)
        if verdict is not None:
            check.compared += 1
            check.identical += verdict
            check.different += not verdict
    for index, expected in enumerate(oracle.generated_expected):
        verdict = _judge(
            check,
            oracle.generated_calls[index],
            oracle.generated_label,
            expected,
            records.generated.get(index),
            oracle.compare_messages,
        )
        if verdict is not None:
            check.generated_compared += 1
            check.generated_identical += verdict
            check.generated_different += not verdict
    return check


def answer_difference(oracle: Oracle, index: int, outcome: Any) -> str:
    """How an answer given while timed (what it returned or raised, nothing else) differs
    from the original's on captured call `index`, with the call; "" when alike."""
    if not isinstance(outcome, list) or not outcome:
        return f"{oracle.calls[index]} gave no outcome"
    why = _difference(
        {"outcome": oracle.expected[index].get("outcome")}, {"outcome": outcome}, compare_messages=oracle.compare_messages
    )
    return f"{oracle.calls[index]} {why}" if why else ""


def raised_on(oracle: Oracle, records: RunRecords) -> dict[str, str]:
    """Solve: the exceptions an answer raises on the generated inputs, each with the
    shortest call that shows it (there is no original to compare with)."""
    found: dict[str, str] = {}
    for index in sorted(records.generated):
        outcome, call = records.generated[index].get("outcome") or [], str(records.generated[index].get("call", ""))
        if outcome[:1] == ["raised"] and len(outcome) >= 3 and call:
            name = str(outcome[1])
            if name not in found or len(call) < len(found[name]):
                found[name] = call
    return found


def _judge(
    check: BehaviourCheck, call: str, label: str, expected: dict[str, Any], got: dict[str, Any] | None, compare_messages: bool
) -> bool | None:
    """Whether the candidate's outcome on one call is the original's (None: not compared,
    the replay's budget ran out); a difference is kept in `check` as a counterexample."""
    outcome = (got or {}).get("outcome") or ["not_replayed", "no result came back"]
    if outcome[0] == "not_replayed":  # no verdict either way
        check.not_compared += 1
        check.note = str(outcome[1])
        return None
    why = _difference(expected, got or {"outcome": outcome}, compare_messages=compare_messages)
    if not why:
        return True
    if len(check.differences) < _SHOWN_DIFFERENCES:
        check.differences.append(f"{call}{label} {why}")
        if why.startswith(("returned", "raised")):
            check.counterexamples.append({"call": call, "expected": expected.get("outcome")})
    return False


def _difference(expected: dict[str, Any], got: dict[str, Any], *, compare_messages: bool = False) -> str:
    """How `got` differs from `expected` in words ("" when it does not)."""
    want, have = expected.get("outcome") or [], got.get("outcome") or []
    if not want or not have:
        return "gave no outcome"
    if have[0] in ("not_replayed", "timed_out"):
        return f"did not finish ({have[1]}); the original {_said(want)}"
    if have[0] == "unloadable":
        return f"could not be called: its arguments do not load with the candidate's module ({have[1]})"
    if (
        want[0] != have[0]
        or (want[0] == "raised" and (want[1] != have[1] or compare_messages and want[2] != have[2]))
        or (want[0] == "returned" and not same(want[1], have[1]))
    ):
        return f"{_did(have)}; the original {_said(want)}"
    if not same(expected.get("after"), got.get("after")):
        return f"left its arguments as {show(got.get('after'))}; the original leaves them as {show(expected.get('after'))}"
    if expected.get("stdout", "") != got.get("stdout", ""):
        return f"printed {_clip(repr(got.get('stdout', '')))}; the original prints {_clip(repr(expected.get('stdout', '')))}"
    return ""


def _did(outcome: list[Any]) -> str:
    return f"raised {outcome[1]}({outcome[2]!r})" if outcome[0] == "raised" else f"returned {show(outcome[1])}"


def _said(outcome: list[Any]) -> str:
    return f"raises {outcome[1]}({outcome[2]!r})" if outcome[0] == "raised" else f"returns {show(outcome[1])}"


def same(a: Any, b: Any) -> bool:
    """Canonical values alike: floats within the tolerance (NaN equals NaN)."""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) == 2 and len(b) == 2 and a[0] == b[0] == "float":
            return _same_float(a[1], b[1])
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)  # plain JSON data: == is already a bool


def _same_float(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)
    return bool(a == b)  # 'nan', 'inf', '-inf' as text


def show(value: Any) -> str:
    """A canonical value as Python would print it, clipped."""
    return _clip(_show(value))


def _show(value: Any) -> str:
    if not isinstance(value, list) or not value:
        return repr(value)
    tag = value[0]
    if tag in ("int", "const", "complex"):
        return str(value[1])
    if tag == "float":
        return repr(value[1]) if isinstance(value[1], (int, float)) else f"float({value[1]!r})"
    if tag == "str":
        return repr(value[1])
    if tag in ("bytes", "bytearray"):
        return f"{tag}(<{len(value[1]) * 3 // 4} bytes>)"
    if tag in ("truncated", "cycle"):
        return "..."
    if tag == "iter":
        return f"iter([{', '.join(_show(v) for v in value[1])}])"
    if tag == "ndarray":
        return f"array({_show(value[3])}, dtype={value[1]})"
    name = str(tag).rsplit(".", 1)[-1]
    if len(value) >= 3 and value[1] in ("object", "repr"):
        if value[1] == "repr":
            return str(value[2])
        fields = value[2][1] if isinstance(value[2], list) and len(value[2]) > 1 else []
        return f"{name}({', '.join(f'{_key(k)}={_show(v)}' for k, v in fields)})"
    items = value[1] if len(value) > 1 and isinstance(value[1], list) else []
    more = ", ..." if len(value) > 2 and isinstance(value[2], int) and value[2] > len(items) else ""
    if name == "list":
        return f"[{', '.join(_show(v) for v in items)}{more}]"
    if name == "tuple":
        return f"({', '.join(_show(v) for v in items)}{',' if len(items) == 1 else ''}{more})"
    if name == "dict":
        return "{" + ", ".join(f"{_show(k)}: {_show(v)}" for k, v in items) + more + "}"
    if name in ("set", "frozenset"):
        return ("{" + ", ".join(_show(v) for v in items) + more + "}") if items else f"{name}()"
    if isinstance(items, list) and all(isinstance(p, list) and len(p) == 2 for p in items) and tag.endswith("dict"):
        return f"{name}({{{', '.join(f'{_show(k)}: {_show(v)}' for k, v in items)}}})"
    return f"{name}({', '.join(_show(v) for v in items)}{more})"


def _key(canonical_key: Any) -> str:
    return str(canonical_key[1]) if isinstance(canonical_key, list) and canonical_key[:1] == ["str"] else _show(canonical_key)


def _clip(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
