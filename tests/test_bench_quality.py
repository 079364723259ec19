"""The quality benchmark's own machinery: the test files it writes score right, the methods are valid settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.quality.methods import METHODS, config_for
from bench.quality.run import interleaved
from bench.quality.tasks import Task, assert_tests, case_tests, write_project


def pytest_in(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, capture_output=True, text=True, timeout=120
    )


CASES = [([[1.0, 2.0]], 1.5), ([[0.1, 0.2]], 0.15000000000000002), ([[]], 0.0)]
MEAN = "def mean(xs):\n    return sum(xs) / len(xs) if xs else 0.0\n"


@pytest.mark.parametrize(
    "solution, passes",
    [
        (MEAN, True),
        ("def mean(xs):\n    return round(sum(xs) / len(xs), 9) if xs else 0.0\n", True),  # floats compare to 1e-6
        ("def mean(xs):\n    return sum(xs) / max(1, len(xs) - 1)\n", False),
        ("def mean(xs):\n    return 1.5\n", False),  # right on the first case only
    ],
)
def test_case_tests_score_right_and_wrong_solutions(tmp_path, solution, passes):
    write_project(tmp_path, solution, {"test_mean.py": case_tests("mean", CASES, "mean")})
    assert (pytest_in(tmp_path).returncode == 0) is passes


def test_case_tests_keep_types_apart(tmp_path):
    """A tuple where a list is expected is wrong, as EvalPlus' own comparison says."""
    write_project(tmp_path, "def pair(a):\n    return (a, a)\n", {"test_pair.py": case_tests("pair", [([1], [1, 1])], "pair")})
    assert pytest_in(tmp_path).returncode == 1


def test_assert_tests_become_one_test_each(tmp_path):
    asserts = ["assert add(1, 2) == 3", "x = add(2, 2)\nassert x == 4", "assert add(0, 0) == 1"]
    write_project(
        tmp_path, "def add(a, b):\n    return a + b\n", {"test_add.py": assert_tests("from solution import add\n", asserts)}
    )
    result = pytest_in(tmp_path)
    assert "1 failed, 2 passed" in result.stdout


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_is_a_valid_engine_setting(method):
    assert config_for(method).validate() == []


def test_interleaved_takes_one_task_of_each_set_in_turn():
    def task(name, kind_set):
        return Task(name, "write", "f", "", "", "", info={"set": kind_set})

    tasks = [task("a1", "A"), task("a2", "A"), task("a3", "A"), task("b1", "B"), task("c1", "C"), task("c2", "C")]
    assert [t.id for t in interleaved(tasks)] == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_a_method_still_part_way_is_compared_on_its_own_tasks():
    from bench.quality.summarize import comparisons

    def record(task, method, solved):
        return {
            "task": task,
            "method": method,
            "kind": "write",
            "set": "S",
            "solved": solved,
            "hidden_pass_ratio": float(solved),
            "offered": solved,
            "bad_offer": False,
            "llm_calls": 1,
            "generated_tokens": 10,
            "wall_seconds": 1.0,
        }

    records = [record(t, m, solved) for t in ("t1", "t2", "t3", "t4") for m, solved in (("cot", t == "t1"), ("orps", True))]
    records += [record("t1", "orps_no_exec", True), record("t2", "orps_no_exec", False)]
    main, partial = comparisons(records, ["cot", "orps", "orps_no_exec"], {"t1", "t2", "t3", "t4"})
    assert list(main) == ["cot", "orps"] and main["cot"]["tasks"] == 4 and main["cot"]["pass_at_1"] == 0.25
    assert list(partial) == ["orps_no_exec"]
    on_two = partial["orps_no_exec"]
    assert {m: s["tasks"] for m, s in on_two.items()} == {"cot": 2, "orps": 2, "orps_no_exec": 2}
    assert on_two["cot"]["pass_at_1"] == 0.5 and on_two["orps_no_exec"]["pass_at_1"] == 0.5
    # While no method has finished every task, all are compared on the tasks all have done.
    main, partial = comparisons(records[:4], ["cot", "orps"], {"t1", "t2", "t3", "t4"})
    assert {m: s["tasks"] for m, s in main.items()} == {"cot": 2, "orps": 2} and partial == {}
