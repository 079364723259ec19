"""The original is the oracle: its calls, captured while its tests run, are replayed on every
candidate in the sandbox; a candidate that behaves differently is refused even where the
user's tests are silent (weak tests: a length, one small input, the return value only)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orps_lsp.discovery import discover_tests
from orps_lsp.executor import ExecutionTarget, SandboxLimits
from orps_lsp.scoring import passes_guard
from orps_lsp.sandbox.executor import PytestExecutor

LIMITS = SandboxLimits(per_test_timeout=5, total_timeout=30, memory_mb=1024, cpu_seconds=30)


def judge(tmp_path: Path, module: str, tests: str, candidates: list[str], function: str):
    """The original's report, then each candidate's, from one executor."""
    (tmp_path / "mod.py").write_text(textwrap.dedent(module))
    (tmp_path / "test_mod.py").write_text(textwrap.dedent(tests))
    selection = discover_tests(tmp_path, tmp_path / "mod.py", function)
    target = ExecutionTarget(project_root=tmp_path, file=tmp_path / "mod.py", function=function, tests=selection, limits=LIMITS)
    with PytestExecutor(target) as executor:
        original = executor.run((tmp_path / "mod.py").read_text())
        return original, [executor.run(textwrap.dedent(c)) for c in candidates]


MERGE = """\
def merge(runs):
    out = []
    for run in runs:
        out.extend(run)
    return out
"""
WEAK_MERGE_TESTS = """\
from mod import merge

def test_length():
    assert len(merge([[2], [1, 2]])) == 3

def test_empty():
    assert merge([]) == []
"""


def test_a_rewrite_that_changes_the_order_is_refused_with_the_call_that_shows_it(tmp_path, run_mode):
    sorted_merge = "def merge(runs):\n    return sorted(x for run in runs for x in run)\n"
    same_merge = "def merge(runs):\n    return [x for run in runs for x in run]\n"
    original, (wrong, right) = judge(tmp_path, MERGE, WEAK_MERGE_TESTS, [sorted_merge, same_merge], "merge")
    assert original.capture.captured == original.capture.usable == 2
    assert wrong.passed == 2 and not passes_guard(original, wrong)  # the tests alone let it through
    assert wrong.behaviour.differences[0] == "merge([[2], [1, 2]]) returned [1, 2, 2]; the original returns [2, 1, 2]"
    assert "behaves differently from the original" in wrong.summary()  # the model's feedback
    assert passes_guard(original, right) and right.behaviour.identical == 2


@pytest.mark.parametrize(
    "module, tests, candidate, difference",
    [
        pytest.param(  # raises on an empty input; the rewrite returns a value
            "def first(items):\n    return items[0]\n",
            "from mod import first\n\ndef test():\n    assert first([3, 4]) == 3\n\n"
            "def test_empty():\n    try:\n        first([])\n    except Exception:\n        pass\n",
            "def first(items):\n    return items[0] if items else None\n",
            "first([]) returned None; the original raises IndexError('list index out of range')",
            id="exception-vs-value",
        ),
        pytest.param(  # sorts the caller's list in place
            "def top(items):\n    return sorted(items)[-1]\n",
            "from mod import top\n\ndef test():\n    assert top([3, 1, 2]) == 3\n",
            "def top(items):\n    items.sort()\n    return items[-1]\n",
            "top([3, 1, 2]) left its arguments as [[[1, 2, 3]], {}]; the original leaves them as [[[3, 1, 2]], {}]",
            id="argument-mutation",
        ),
        pytest.param(  # a method that leaves `self` in another state
            "class Counter:\n    def __init__(self):\n        self.seen = []\n\n"
            "    def add(self, x):\n        self.seen.append(x)\n        return len(self.seen)\n",
            "from mod import Counter\n\ndef test():\n    c = Counter()\n    assert c.add(5) == 1\n",
            "class Counter:\n    def __init__(self):\n        self.seen = []\n\n"
            "    def add(self, x):\n        self.seen = self.seen + [x, x]\n        return len(self.seen) // 2\n",
            "add(5) left its arguments as",
            id="self-mutation",
        ),
        pytest.param(  # prints something else
            "def greet(name):\n    print('hello', name)\n    return len(name)\n",
            "from mod import greet\n\ndef test():\n    assert greet('ann') == 3\n",
            "def greet(name):\n    print('hi', name)\n    return len(name)\n",
            "greet('ann') printed 'hi ann\\n'; the original prints 'hello ann\\n'",
            id="stdout",
        ),
        pytest.param(  # a generator: judged by what it yields
            "def evens(n):\n    for i in range(n):\n        if i % 2 == 0:\n            yield i\n",
            "from mod import evens\n\ndef test():\n    assert 0 in evens(5)\n",
            "def evens(n):\n    return iter(range(0, n + 2, 2))\n",
            "evens(5) returned iter([0, 2, 4, 6]); the original returns iter([0, 2, 4])",
            id="generator",
        ),
    ],
)
def test_each_kind_of_difference_is_refused(tmp_path, run_mode, module, tests, candidate, difference):
    function = "Counter.add" if "class Counter" in module else module.split("def ")[1].split("(")[0]
    original, (wrong,) = judge(tmp_path, module, tests, [candidate], function)
    assert wrong.passed == wrong.total and original.capture.usable >= 1
    assert not passes_guard(original, wrong)
    assert wrong.behaviour.differences[0].startswith(difference), wrong.behaviour.differences


def test_floats_compare_within_a_tolerance_and_nan_equals_nan(tmp_path, run_mode):
    module = "def mean(xs):\n    total = 0.0\n    for x in xs:\n        total += x\n    return total / len(xs) if xs else float('nan')\n"
    tests = "from mod import mean\n\ndef test():\n    assert mean([0.1, 0.2, 0.3]) > 0\n    mean([])\n"
    reordered = "import math\n\ndef mean(xs):\n    return math.fsum(reversed(xs)) / len(xs) if xs else float('nan')\n"
    original, (candidate,) = judge(tmp_path, module, tests, [reordered], "mean")
    assert original.capture.usable == 2
    assert passes_guard(original, candidate) and candidate.behaviour.identical == 2


def test_numpy_arrays_compare_by_dtype_shape_and_values(tmp_path, run_mode):
    pytest.importorskip("numpy")
    module = "import numpy as np\n\ndef scale(a):\n    return a * 2\n"
    tests = "import numpy as np\nfrom mod import scale\n\ndef test():\n    assert scale(np.arange(3)).shape == (3,)\n"
    floats = "import numpy as np\n\ndef scale(a):\n    return a * 2.0\n"
    same = "import numpy as np\n\ndef scale(a):\n    return a + a\n"
    original, (wrong, right) = judge(tmp_path, module, tests, [floats, same], "scale")
    assert not passes_guard(original, wrong) and "dtype=float64" in wrong.behaviour.differences[0]
    assert passes_guard(original, right)


def test_a_non_deterministic_original_is_no_oracle_and_refuses_nothing(tmp_path, run_mode):
    module = "import random\n\ndef jitter(x):\n    return x + random.random()\n"
    tests = "from mod import jitter\n\ndef test():\n    assert 1 <= jitter(1) < 2\n"
    candidate = "import random\n\ndef jitter(x):\n    return random.random() + x\n"
    original, (other,) = judge(tmp_path, module, tests, [candidate], "jitter")
    assert original.capture.captured >= 1 and original.capture.usable == 0 and original.capture.unstable >= 1
    assert "depend on a test's setup, time or chance" in original.capture.describe()
    assert passes_guard(original, other)


def test_an_unpicklable_argument_is_said_and_refuses_nothing(tmp_path, run_mode):
    module = "def apply(f, x):\n    return f(x)\n"
    tests = "from mod import apply\n\ndef test():\n    assert apply(lambda v: v + 1, 1) == 2\n    assert apply(abs, -3) == 3\n"
    candidate = "def apply(f, x):\n    result = f(x)\n    return result\n"
    original, (same,) = judge(tmp_path, module, tests, [candidate], "apply")
    assert original.capture.captured == 1 and original.capture.not_captured
    assert "cannot be pickled" in original.capture.describe()
    assert passes_guard(original, same) and same.behaviour.identical == 1


def test_a_candidate_cannot_empty_the_replay_it_is_judged_on(tmp_path, run_mode):
    """The calls to replay are read before any project code runs: a candidate that deletes
    or rewrites the file when first called changes nothing; doing it at import is refused."""
    emptying = (
        "    import glob, os\n"
        "    for _f in glob.glob(os.path.join(os.path.dirname(__file__), '.orps-replay-*')):\n"
        "        open(_f, 'w').write('[]')\n"
    )
    when_called = "def merge(runs):\n" + emptying + "    return sorted(x for run in runs for x in run)\n"
    at_import = (
        "import glob, os\n"
        + textwrap.dedent(emptying).replace("import glob, os\n", "")
        + "\ndef merge(runs):\n    return sorted(x for run in runs for x in run)\n"
    )
    original, (wrong, refused) = judge(tmp_path, MERGE, WEAK_MERGE_TESTS, [when_called, at_import], "merge")
    assert not passes_guard(original, wrong) and wrong.behaviour.different == 1
    assert not passes_guard(original, refused) and "runs at import" in refused.error


def _report_with(function: str, *examples):
    from orps_lsp.report import BehaviourCheck, ExecutionReport, Node, SearchReport

    nodes = [
        Node(
            id=i,
            depth=0,
            parent=None,
            code="",
            reasoning="",
            execution=ExecutionReport(behaviour=BehaviourCheck(counterexamples=[e])),
        )
        for i, e in enumerate(examples)
    ]
    return SearchReport(
        mode="optimize", file="mod.py", function=function, model="m", original_code="", original=ExecutionReport(), nodes=nodes
    )


def test_the_missing_test_is_written_only_from_literals():
    from orps_lsp.regression import missing_test

    raised = {"call": "first([])", "expected": ["raised", "IndexError", "list index out of range"]}
    longer = {"call": "first([1, 2, 3])", "expected": ["returned", ["int", "1"]]}
    assert missing_test(_report_with("first", longer, raised), "pkg.mod") == (
        "import pytest\nfrom pkg.mod import first\n\n\ndef test_first_keeps_the_behaviour_of_the_original():\n"
        "    with pytest.raises(IndexError):\n        first([])\n"
    )
    floats = {"call": "mean([0.1, 0.2])", "expected": ["returned", ["float", 0.15000000000000002]]}
    assert "assert mean([0.1, 0.2]) == pytest.approx(0.15000000000000002)" in missing_test(_report_with("mean", floats), "m")
    generated = {"call": "evens(3)", "expected": ["returned", ["iter", [["int", "0"], ["int", "2"]]]]}
    assert "assert list(evens(3)) == [0, 2]" in missing_test(_report_with("evens", generated), "m")
    objects = {"call": "f(<Thing>)", "expected": ["returned", ["int", "1"]]}
    project_error = {"call": "f(1)", "expected": ["raised", "ParseError", "bad"]}
    assert missing_test(_report_with("f", objects, project_error), "m") == ""
    assert missing_test(_report_with("C.m", longer), "m") == ""  # a method's instance is no literal


def test_a_candidate_that_patches_the_comparison_while_replayed_is_caught(tmp_path, run_mode):
    """The candidate's code runs again during the replay: replacing the canonical form there
    (so that every outcome reads the same) is tampering, and the run counts for nothing."""
    cheat = (
        "def merge(runs):\n    import orps_lsp.sandbox.capture as c\n    c.canonical = lambda value: ['same']\n"
        "    return sorted(x for run in runs for x in run)\n"
    )
    original, (wrong,) = judge(tmp_path, MERGE, WEAK_MERGE_TESTS, [cheat], "merge")
    assert not passes_guard(original, wrong)
    assert "tampered" in wrong.error or wrong.behaves_differently, wrong.error
