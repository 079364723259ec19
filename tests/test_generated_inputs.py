"""Inputs the tests do not hold: drawn with Hypothesis from the shapes of the original's
captured calls, run on the original (twice) and on every candidate in the sandbox. A
candidate alike on every captured call but different on a drawn input is refused."""

from __future__ import annotations

import base64
import pickle
import textwrap
from pathlib import Path

from orps_lsp.discovery import discover_tests
from orps_lsp.executor import ExecutionTarget, OracleOptions, SandboxLimits
from orps_lsp.sandbox import capture
from orps_lsp.sandbox.executor import PytestExecutor
from orps_lsp.sandbox.generate import draw_inputs
from orps_lsp.scoring import passes_guard

LIMITS = SandboxLimits(per_test_timeout=5, total_timeout=30, memory_mb=1024, cpu_seconds=30)


def judge(tmp_path: Path, module: str, tests: str, candidates: list[str], function: str, oracle: OracleOptions | None = None):
    (tmp_path / "mod.py").write_text(textwrap.dedent(module))
    (tmp_path / "test_mod.py").write_text(textwrap.dedent(tests))
    target = ExecutionTarget(
        project_root=tmp_path,
        file=tmp_path / "mod.py",
        function=function,
        tests=discover_tests(tmp_path, tmp_path / "mod.py", function),
        limits=LIMITS,
        oracle=oracle or OracleOptions(),
    )
    with PytestExecutor(target) as executor:
        original = executor.run((tmp_path / "mod.py").read_text())
        return original, [executor.run(textwrap.dedent(c)) for c in candidates]


POSITIVE_SUM = "def positive_sum(xs):\n    return sum(x for x in xs if x > 0)\n"
ONE_TEST = "from mod import positive_sum\n\ndef test():\n    assert positive_sum([1, 2, 3]) == 6\n"


def test_a_rewrite_alike_on_every_captured_call_is_refused_on_a_generated_input(tmp_path, run_mode):
    ignores_the_sign = "def positive_sum(xs):\n    return sum(xs)\n"
    same = "def positive_sum(xs):\n    return sum([x for x in xs if x > 0])\n"
    original, (wrong, right) = judge(tmp_path, POSITIVE_SUM, ONE_TEST, [ignores_the_sign, same], "positive_sum")
    assert original.capture.usable == 1 and original.capture.generated >= 20, original.capture.describe()
    # The captured call alone cannot tell them apart; a drawn list with a negative number can.
    assert wrong.passed == 1 and wrong.behaviour.identical == 1 and wrong.behaviour.different == 0
    assert wrong.behaviour.generated_different >= 1 and not passes_guard(original, wrong)
    difference = wrong.behaviour.differences[0]
    assert difference.startswith("positive_sum([") and "(a generated input) returned" in difference, difference
    assert wrong.behaviour.counterexamples[0]["call"].startswith("positive_sum([")  # literal: a ready test
    assert passes_guard(original, right)
    assert right.behaviour.generated_identical == right.behaviour.generated_compared == original.capture.generated
    assert f"{original.capture.generated} generated inputs identical" in right.behaviour.evidence()


CYCLIC = """\
def cycpattern_check(a, b):
    \"\"\"Whether b, or any rotation of it, is a substring of a (HumanEval/154).\"\"\"
    size = len(b)
    pattern = b + b
    for i in range(len(a) - size + 1):
        for j in range(size + 1):
            if a[i:i + size] == pattern[j:j + size]:
                return True
    return False
"""


def test_an_argument_made_from_another_finds_what_drawing_apart_misses(tmp_path, run_mode):
    """HumanEval/154's weak tests, where the model's `b in a` passed every test, every
    captured call and every input drawn apart: strings drawn independently are almost never
    a rotation of a piece of each other; a `b` made from a rotated piece of `a` is."""
    tests = (
        "from mod import cycpattern_check\n\ndef test():\n    assert not cycpattern_check('xyzw', 'xyw')\n"
        "    assert cycpattern_check('yello', 'ell')\n    assert not cycpattern_check('whattup', 'ptut')\n"
    )
    substring_only = "def cycpattern_check(a, b):\n    return b in a\n"
    same = "def cycpattern_check(a, b):\n    return any(b[i:] + b[:i] in a for i in range(len(b))) or not b\n"
    original, (wrong, right) = judge(tmp_path, CYCLIC, tests, [substring_only, same], "cycpattern_check")
    assert wrong.passed == 1 and wrong.behaviour.identical == 3 and not passes_guard(original, wrong)
    assert "(a generated input) returned False; the original returns True" in wrong.behaviour.differences[0], (
        wrong.behaviour.differences
    )
    # Made alike in the original's sandbox and in each candidate's (the recipe seeds the piece).
    assert passes_guard(original, right), right.behaviour.describe()


def test_inputs_the_original_does_not_finish_are_left_out(tmp_path, run_mode):
    """A countdown that never ends on a negative number: those inputs say nothing (no
    expectation), and a candidate that returns at once is judged on the others."""
    module = "def countdown(n):\n    while n != 0:\n        n -= 1\n    return 'done'\n"
    tests = "from mod import countdown\n\ndef test():\n    assert countdown(3) == 'done'\n"
    candidate = "def countdown(n):\n    return 'done'\n"
    original, (fast,) = judge(tmp_path, module, tests, [candidate], "countdown", OracleOptions(generated_inputs=12))
    assert original.capture.generated >= 1, original.capture.describe()
    assert "the original did not finish them in time" in original.capture.generated_skipped
    assert passes_guard(original, fast) and fast.behaviour.generated_identical == original.capture.generated


def test_exception_messages_are_compared_only_when_asked(tmp_path, run_mode):
    module = "def parse(text):\n    return int(text)\n"
    tests = "from mod import parse\n\ndef test():\n    assert parse('12') == 12\n"
    other_message = (
        "def parse(text):\n    try:\n        return int(text)\n    except ValueError:\n"
        "        raise ValueError('not a number') from None\n"
    )
    original, (by_type,) = judge(tmp_path, module, tests, [other_message], "parse", OracleOptions(generated_inputs=30))
    assert by_type.behaviour.generated_compared >= 1 and passes_guard(original, by_type), by_type.behaviour.describe()
    original, (by_message,) = judge(
        tmp_path, module, tests, [other_message], "parse", OracleOptions(generated_inputs=30, compare_exception_messages=True)
    )
    assert not passes_guard(original, by_message)
    assert "raised ValueError('not a number')" in by_message.behaviour.differences[0]


def test_object_arguments_are_kept_and_plain_ones_drawn(tmp_path, run_mode):
    """A method: `self` stays as the test made it; the number beside it is drawn."""
    module = (
        "class Account:\n    def __init__(self, balance):\n        self.balance = balance\n\n"
        "    def can_pay(self, amount):\n        return 0 <= amount <= self.balance\n"
    )
    tests = "from mod import Account\n\ndef test():\n    assert Account(10).can_pay(5)\n"
    no_lower_bound = (
        "class Account:\n    def __init__(self, balance):\n        self.balance = balance\n\n"
        "    def can_pay(self, amount):\n        return amount <= self.balance\n"
    )
    original, (wrong,) = judge(tmp_path, module, tests, [no_lower_bound], "Account.can_pay")
    assert original.capture.generated >= 5
    assert not passes_guard(original, wrong)
    assert wrong.behaviour.differences[0].startswith("can_pay(-"), wrong.behaviour.differences


def test_no_generated_inputs_when_turned_off(tmp_path, run_mode):
    ignores_the_sign = "def positive_sum(xs):\n    return sum(xs)\n"
    original, (wrong,) = judge(
        tmp_path, POSITIVE_SUM, ONE_TEST, [ignores_the_sign], "positive_sum", OracleOptions(generated_inputs=0)
    )
    assert original.capture.generated == 0 and wrong.behaviour.generated_compared == 0
    assert passes_guard(original, wrong)  # only the captured call, which it gets right


def test_drawing_is_deterministic_under_a_seed_and_keeps_the_kinds_seen():
    shapes = [[[capture.shape([1, 5, 2]), capture.shape("ab")], {"strict": capture.shape(True)}]]
    first, again, other = draw_inputs(shapes, 40, 0), draw_inputs(shapes, 40, 0), draw_inputs(shapes, 40, 1)
    assert first.inputs == again.inputs and first.inputs != other.inputs
    assert 20 <= len(first.inputs) <= 40 and all(item["base"] == 0 for item in first.inputs)
    values = [pickle.loads(base64.b64decode(item["values"])) for item in first.inputs]
    assert all(
        isinstance(p[0], list) and all(type(x) is int for x in p[0]) and isinstance(p[1], str) and type(n["strict"]) is bool
        for p, n in values
    )
    assert any(p[0] == [] for p, _ in values) and any(x < 0 for p, _ in values for x in p[0])  # empty, negatives
    sizes = [sum(map(abs, p[0])) + len(p[0]) + len(p[1]) for p, _ in values]
    assert sizes[0] <= sizes[len(sizes) // 2] <= sizes[-1]  # smallest first


def test_nothing_is_drawn_for_objects_alone():
    shapes = [[["other"], {}]]
    drawn = draw_inputs(shapes, 10, 0)
    assert drawn.inputs == [] and "no argument is plain data" in drawn.note


def test_shapes_unify_across_calls():
    assert capture.unify(capture.shape([]), capture.shape([3])) == ["list", ["int", 3, 3], 1]
    assert capture.unify(capture.shape(1), capture.shape(7)) == ["int", 1, 7]
    assert capture.unify(capture.shape(1), capture.shape("a")) == "other"
    assert capture.shape((1, "a")) == ["tuple", [["int", 1, 1], ["str", 1, "a"]]]
    assert capture.shape([1, "a"]) == ["list", "other", 2]
    assert capture.shape(True) == ["bool"] and capture.shape(float("nan")) == "other"


def test_hypothesis_plugin_stays_only_for_projects_that_use_it(tmp_path):
    from orps_lsp.sandbox.executor import mentions_hypothesis

    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "mod.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "tests" / "unit" / "test_f.py").write_text("from mod import f\n\ndef test():\n    assert f(1) == 1\n")
    files = [tmp_path / "tests" / "unit" / "test_f.py"]
    assert not mentions_hypothesis(tmp_path, files, tmp_path / "mod.py")
    assert not mentions_hypothesis(tmp_path, [tmp_path / "tests"], tmp_path / "mod.py")
    (tmp_path / "tests" / "conftest.py").write_text("from hypothesis import settings\n")
    assert mentions_hypothesis(tmp_path, files, tmp_path / "mod.py")
    (tmp_path / "tests" / "conftest.py").unlink()
    (tmp_path / "tests" / "unit" / "test_g.py").write_text("from hypothesis import given\n")
    assert mentions_hypothesis(tmp_path, [tmp_path / "tests"], tmp_path / "mod.py")  # a folder: its files


def test_calls_of_different_kinds_are_drawn_apart():
    """Lists of numbers and lists of strings (slowmath's has_duplicates tests): each kind is
    drawn, none mixed into the other."""
    shapes = [[[capture.shape([1, 2, 3])], {}], [[capture.shape(["a", "b"])], {}], [[capture.shape([])], {}]]
    inputs = draw_inputs(shapes, 60, 0).inputs
    values = [(item["base"], pickle.loads(base64.b64decode(item["values"]))[0][0]) for item in inputs]
    assert {0, 1} <= {base for base, _ in values}  # the empty list joins the first kind it fits
    assert all(all(type(x) is (str if base == 1 else int) for x in value) for base, value in values)
    assert any(value and type(value[0]) is str for _, value in values)


def test_small_numbers_are_drawn_whatever_range_the_tests_used():
    """Tests that call f(5) and f(20000) (a timing size) still get f(0), f(1), f(-1): where a
    rewrite's edge cases are, and where the original answers in time."""
    shapes = [[[capture.shape(5)], {}], [[capture.shape(20000)], {}]]
    values = {pickle.loads(base64.b64decode(item["values"]))[0][0] for item in draw_inputs(shapes, 100, 0).inputs}
    assert {0, 1, -1} <= values and max(values) > 1000


def test_an_element_of_a_list_argument_is_drawn_for_the_value_beside_it():
    """index_of(xs, x) with wide numbers: x drawn apart is almost never in xs; a recipe
    takes it from the list (the drawn one or the tests' own)."""
    captured = ([500, -700, 9000], 12)
    shapes = [[[capture.shape(captured[0]), capture.shape(captured[1])], {}]]
    blobs = [base64.b64encode(pickle.dumps((captured, {}))).decode()]
    calls = [capture._load_generated(blobs, item)[0] for item in draw_inputs(shapes, 60, 0).inputs]
    members = [(xs, x) for xs, x in calls if x in xs and x not in range(-10, 11)]
    assert len(members) >= 10, calls
    assert any(xs == captured[0] for xs, _ in members) and any(xs != captured[0] for xs, _ in members)
