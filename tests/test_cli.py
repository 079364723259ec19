"""The `orps-lsp optimize/solve` command end to end: real pytest in the sandbox,
a scripted model (ORPS_SCRIPTED_MODEL) for speed, and every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAST = "    return len(set(items)) != len(items)\n```"


def orps(*args: str, cwd: Path, answers: list[str] | None = None, tmp_path: Path | None = None, timeout: float = 240):
    env = dict(os.environ)
    env.pop("ORPS_SCRIPTED_MODEL", None)
    if answers is not None:
        script = (tmp_path or cwd) / "answers.json"
        script.write_text(json.dumps(answers))
        env["ORPS_SCRIPTED_MODEL"] = str(script)
    return subprocess.run(
        [sys.executable, "-m", "orps_lsp.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("orps-lsp: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def test_optimize_applies_a_verified_faster_version(example_project, tmp_path):
    before = (example_project / "slowmath.py").read_text()
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--apply",
        "--depth",
        "1",
        cwd=example_project,
        answers=[FAST],
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "--- a/" in result.stdout and "+    return len(set(items)) != len(items)" in result.stdout
    assert "tests passed" in result.stdout and "improved:" in result.stdout
    assert "round 1/1" in result.stderr  # progress
    after = (example_project / "slowmath.py").read_text()
    assert after != before and "set(items)" in after and "def fib" in after
    check = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/test_duplicates.py"], cwd=example_project, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout


def test_json_report_has_every_node(example_project, tmp_path):
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--json",
        "--depth",
        "2",
        "--quiet",
        cwd=example_project,
        answers=[FAST, "    return False\n```"],
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["original"]["total"] == 6 and report["original"]["passed"] == 6
    assert len(report["nodes"]) == 3 + 2 * 3
    for node in report["nodes"]:
        assert {"code", "execution", "critique", "scores", "parent"} <= node.keys()
    best = next(n for n in report["nodes"] if n["id"] == report["best_id"])
    assert best["execution"]["passed"] == 6  # the wrong, faster `return False` never wins


def test_nothing_better_exits_1_and_leaves_the_file(example_project, tmp_path):
    same = "    for i in range(len(items)):\n        for j in range(len(items)):\n            if i != j and items[i] == items[j]:\n                return True\n    return False\n```"
    before = (example_project / "slowmath.py").read_text()
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--apply",
        "--depth",
        "1",
        "--instruction-counter",
        "none",
        cwd=example_project,
        answers=[same],
        tmp_path=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "nothing offered" in result.stdout
    assert (example_project / "slowmath.py").read_text() == before


def test_solve_a_stub(example_project, tmp_path):
    body = "    letters = [c.lower() for c in text if c.isalpha()]\n    return letters == letters[::-1]\n```"
    result = orps(
        "solve", "slowmath.py::is_palindrome", "--apply", "--depth", "1", cwd=example_project, answers=[body], tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "solved: 6/6 tests pass" in result.stdout
    assert "isalpha" in (example_project / "slowmath.py").read_text()


@pytest.mark.parametrize(
    "target, expected",
    [
        ("missing.py::f", "file not found"),
        ("slowmath.py::nope", "no function 'nope'"),
        ("slowmath.py", "expected FILE::FUNCTION"),
        ("slowmath.py::is_palindrome", "stub"),  # optimize on a stub
    ],
)
def test_bad_targets(example_project, target, expected):
    assert expected in one_error_line(orps("optimize", target, cwd=example_project))


def test_syntax_error_in_file(example_project):
    (example_project / "broken.py").write_text("def f(:\n    pass\n")
    assert "syntax error" in one_error_line(orps("optimize", "broken.py::f", cwd=example_project))


def test_non_utf8_file(example_project):
    (example_project / "latin.py").write_bytes("def f():\n    return 'caf\xe9'\n".encode("latin-1"))
    assert "not UTF-8" in one_error_line(orps("optimize", "latin.py::f", cwd=example_project))


def test_no_tests_found(example_project):
    (example_project / "lonely.py").write_text("def lonely(x):\n    return x + 1\n")
    line = one_error_line(orps("optimize", "lonely.py::lonely", cwd=example_project))
    assert "--no-tests" in line


@pytest.mark.parametrize("content, expected", [(b"not a model at all", "not a GGUF"), (None, "could not load the model")])
def test_bad_model_files(example_project, tmp_path, content, expected):
    bad = tmp_path / "bad.gguf"
    if content is None:  # a truncated real model
        from orps_lsp.model.embedded import ensure_embedded

        with open(ensure_embedded(), "rb") as handle:
            bad.write_bytes(handle.read(8 << 20))
    else:
        bad.write_bytes(content)
    assert expected in one_error_line(orps("optimize", "slowmath.py::has_duplicates", "--model", str(bad), cwd=example_project))


def test_missing_model_file(example_project):
    line = one_error_line(orps("optimize", "slowmath.py::has_duplicates", "--model", "/nonexistent/m.gguf", cwd=example_project))
    assert "model file not found" in line


def test_model_answers_without_code(example_project, tmp_path):
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--depth",
        "1",
        cwd=example_project,
        answers=["I'd rather not.\n```"],
        tmp_path=tmp_path,
    )
    assert "no usable code" in one_error_line(result)


def test_bad_search_setting(example_project):
    assert "beam_width must be at least 1" in one_error_line(
        orps("optimize", "slowmath.py::has_duplicates", "-K", "0", cwd=example_project)
    )


def test_tests_that_already_fail_for_the_original(example_project, tmp_path):
    """The search still runs; the guard compares with what the original passes, and says so."""
    tests = example_project / "tests" / "test_duplicates.py"
    tests.write_text(tests.read_text() + "\n\ndef test_already_broken():\n    assert has_duplicates([1, 2]) is True\n")
    wrong_too = "    return len(set(items)) == len(items)\n```"  # fixes the broken test, breaks the others
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--json",
        "--quiet",
        "--depth",
        "1",
        cwd=example_project,
        answers=[wrong_too, FAST],
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["original"]["passed"] == report["original"]["total"] - 1 == 6
    assert [w["code"] for w in report["warnings"]] == ["original-fails"], report["warnings"]
    best = next(n for n in report["nodes"] if n["id"] == report["best_id"])
    assert "set(items)) != len(items)" in best["code"] and best["execution"]["passed"] == 6


def test_a_partial_solve_has_its_own_exit_code_and_is_applied_only_when_allowed(example_project, tmp_path):
    half = "    return text == text[::-1]\n```"  # right for plain lower-case words only
    before = (example_project / "slowmath.py").read_text()
    result = orps(
        "solve", "slowmath.py::is_palindrome", "--apply", "--depth", "1", cwd=example_project, answers=[half], tmp_path=tmp_path
    )
    assert result.returncode == 3, result.stderr
    assert "partial solution" in result.stdout and "not applied" in result.stderr
    assert (example_project / "slowmath.py").read_text() == before
    result = orps(
        "solve",
        "slowmath.py::is_palindrome",
        "--apply",
        "--allow-partial",
        "--depth",
        "1",
        cwd=example_project,
        answers=[half],
        tmp_path=tmp_path,
    )
    assert result.returncode == 3 and "text[::-1]" in (example_project / "slowmath.py").read_text()


def test_solve_refuses_a_function_that_has_a_body(example_project):
    line = one_error_line(orps("solve", "slowmath.py::fib", cwd=example_project))
    assert "already has a body" in line and "optimize" in line


def test_a_docstring_with_a_fence_is_extracted_and_kept(example_project, tmp_path):
    """A docstring holding a ``` example: the answer still parses, and a candidate that drops
    the docstring gets the original's back."""
    source = example_project / "slowmath.py"
    text = source.read_text().replace(
        '    """Return True if any value occurs more than once in `items`."""',
        '    """Return True if any value occurs more than once in `items`.\n\n    ```python\n    has_duplicates([1, 1])\n    ```\n    """',
    )
    source.write_text(text)
    with_fence = '    """Fast.\n\n    ```python\n    has_duplicates([1, 1])\n    ```\n    """\n    return len(set(items)) != len(items)\n```\nLinear time.'
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--json",
        "--quiet",
        "--depth",
        "1",
        cwd=example_project,
        answers=[with_fence],
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert all(n["valid"] for n in json.loads(result.stdout)["nodes"])
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--apply",
        "--depth",
        "1",
        cwd=example_project,
        answers=[FAST],
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    after = source.read_text()
    assert "set(items)" in after and "    ```python\n    has_duplicates([1, 1])\n    ```" in after


def test_when_every_answer_is_unusable_the_table_and_the_report_still_come_out(example_project, tmp_path):
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--depth",
        "1",
        "--report",
        str(tmp_path / "r.html"),
        cwd=example_project,
        answers=["No code today."],
        tmp_path=tmp_path,
    )
    assert "no usable code" in one_error_line(result)
    assert "tests passed" in result.stdout and (tmp_path / "r.html").stat().st_size > 1000


@pytest.mark.parametrize(
    "breakage, expected",
    [
        ("collection", "collecting tests/test_duplicates.py failed"),
        ("keyword", "no test was selected"),
    ],
)
def test_an_original_whose_tests_do_not_start_stops_the_search_at_once(example_project, tmp_path, breakage, expected):
    tests = example_project / "tests" / "test_duplicates.py"
    extra = []
    if breakage == "collection":
        tests.write_text("import module_that_does_not_exist\n" + tests.read_text())
    else:
        extra = ["-k", "no_test_has_this_name"]
    result = orps(
        "optimize", "slowmath.py::has_duplicates", "--depth", "1", *extra, cwd=example_project, answers=[FAST], tmp_path=tmp_path
    )
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip().splitlines()[-1]  # pytest's own report (its traceback included) comes before it
    assert line.startswith("orps-lsp: error: ") and expected in line and "Nothing was generated" in line
    assert "orps_lsp" not in result.stderr  # no traceback of ours
    if breakage == "collection":
        assert "module_that_does_not_exist" in result.stderr  # pytest's own output comes first
    assert "round" not in result.stderr.split("running the original")[-1]  # no candidate was generated


def test_explain_tests_says_which_tests_and_why(example_project):
    result = orps("optimize", "slowmath.py::has_duplicates", "--explain-tests", cwd=example_project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tests/test_duplicates.py: imports slowmath and uses has_duplicates"


def test_tests_that_never_run_the_function_say_so(example_project, tmp_path):
    """Chosen by hand, tests that import the module but never call the function judge nothing: the report says it.
    (Not a stop: a function run only in child processes reads 0% too.)"""
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--test-paths",
        "tests/test_fib.py",
        "--depth",
        "1",
        "--json",
        "--quiet",
        cwd=example_project,
        answers=["    return False\n```"],
        tmp_path=tmp_path,
    )
    assert "weak-tests" in [w["code"] for w in json.loads(result.stdout)["warnings"]], result.stderr


SKIPPING_TESTS = """\
import pytest
from text import shout


def call(x):
    try:
        return shout(x)
    except NotImplementedError:
        pytest.skip("not written yet")
    except ValueError:
        pytest.skip("cannot shout that")


def test_word():
    assert call("hi") == "HI!"


def test_empty():
    assert call("") == "!"


def test_needs_a_library():
    pytest.importorskip("not_installed_anywhere")
    assert call("a") == "A!"
"""


@pytest.mark.parametrize(
    "answer, code, verdict",
    [
        ("    return text.upper() + '!'\n```", 0, "solved: 2/3 tests pass, 1 skipped with the stub too"),
        (
            "    if not text:\n        raise ValueError(text)\n    return text.upper() + '!'\n```",
            3,
            "partial solution: 1/3 tests pass, 1 skip themselves with it",
        ),
    ],
)
def test_solve_when_the_stubs_tests_skip_themselves(tmp_path, answer, code, verdict):
    """Tests that skip while the function is a stub are what the answer makes run; one
    that skips because of the answer is not solved."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "text.py").write_text('def shout(text):\n    """Upper-case it, with a bang."""\n    raise NotImplementedError\n')
    (project / "test_text.py").write_text(SKIPPING_TESTS)
    result = orps("solve", "text.py::shout", "--depth", "1", cwd=project, answers=[answer], tmp_path=tmp_path)
    assert result.returncode == code, result.stderr + result.stdout
    assert verdict in result.stdout, result.stdout


def test_a_rewrite_the_weak_tests_miss_is_refused_with_its_counterexample(tmp_path):
    """The tests check a length only; the sorted rewrite passes them, and is refused on the
    original's own captured call, which the verdict shows. A faithful rewrite is offered with
    its evidence."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "runs.py").write_text(
        "def merge(runs):\n    out = []\n    for run in runs:\n        for x in run:\n"
        "            out = out + [x]\n    return out\n"
    )
    (project / "test_runs.py").write_text(
        "from runs import merge\n\ndef test_length():\n"
        "    assert len(merge([[2], [1, 2]])) == 3\n\n"
        "def test_many():\n    assert len(merge([[2], [1, 2]] * 3000)) == 9000\n"
    )
    before = (project / "runs.py").read_text()
    wrong = "    return sorted(x for run in runs for x in run)\n```"
    result = orps(
        "optimize",
        "runs.py::merge",
        "--apply",
        "--depth",
        "1",
        "--instruction-counter",
        "none",
        cwd=project,
        answers=[wrong],
        tmp_path=tmp_path,
    )
    assert result.returncode == 1, result.stderr + result.stdout
    assert "behaved as the original on its captured calls and generated inputs" in result.stdout
    assert "merge([[2], [1, 2]]) returned [1, 2, 2]; the original returns [2, 1, 2]" in result.stdout
    assert "oracle: 2 of 2 captured calls of the original replay identically" in result.stdout
    assert (project / "runs.py").read_text() == before
    # The call, as the test the suite lacks; it passes on the original.
    result = orps(
        "optimize",
        "runs.py::merge",
        "--depth",
        "1",
        "--instruction-counter",
        "none",
        "--write-tests",
        "test_runs_behaviour.py",
        cwd=project,
        answers=[wrong],
        tmp_path=tmp_path,
    )
    assert "A test your suite lacks" in result.stdout and "test written to test_runs_behaviour.py" in result.stderr
    written = (project / "test_runs_behaviour.py").read_text()
    # The shortest counterexample: a captured call or a generated input (`merge([[4, 2]])`).
    assert written.startswith("from runs import merge\n") and "    assert merge([" in written, written

    def written_test_passes() -> bool:
        return (
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_runs_behaviour.py"],
                cwd=project,
                capture_output=True,
                text=True,
            ).returncode
            == 0
        )

    assert written_test_passes()  # on the original
    (project / "runs.py").write_text("def merge(runs):\n" + wrong.removesuffix("```"))
    assert not written_test_passes()  # on the refused rewrite
    (project / "runs.py").write_text(before)
    right = "    return [x for run in runs for x in run]\n```"
    result = orps(
        "optimize",
        "runs.py::merge",
        "--json",
        "--quiet",
        "--depth",
        "1",
        "--instruction-counter",
        "none",
        cwd=project,
        answers=[right],
        tmp_path=tmp_path,
    )
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["original"]["capture"]["usable"] == 3  # the written test is one of the user's tests now
    assert "3 captured calls identical" in report["verdict"]


def test_solve_warns_of_exceptions_on_generated_inputs_the_docstring_does_not_mention(tmp_path):
    """No original to compare with: the stub's calls shape the generated inputs, and an answer
    that raises on one of them (1 / 0) gets a warning, unless the docstring says so."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_inverse.py").write_text("from inverse import inverse\n\ndef test():\n    assert inverse(2) == 0.5\n")
    answer = "    return 1 / x\n```"
    for docstring, warned in (("One over x.", True), ("One over x; raises ZeroDivisionError for 0.", False)):
        (project / "inverse.py").write_text(f'def inverse(x):\n    """{docstring}"""\n    raise NotImplementedError\n')
        result = orps("solve", "inverse.py::inverse", "--depth", "1", "--json", cwd=project, answers=[answer], tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr + result.stdout
        warnings = [w for w in json.loads(result.stdout)["warnings"] if w["code"] == "undocumented-raise"]
        assert bool(warnings) is warned, warnings
        assert all("ZeroDivisionError" in w["message"] and "inverse(0)" in w["message"] for w in warnings), warnings


def test_model_text_with_lone_surrogates_is_made_safe_once_at_the_boundary(example_project, tmp_path):
    """A backend's broken UTF-8 (or a hostile endpoint) sends lone surrogates in the code and
    in the critique: the search, the text report, the HTML report and the applied edit all
    go through (U+FFFD in their place), never a UnicodeEncodeError."""
    script = tmp_path / "answers.json"
    script.write_text(
        json.dumps(
            {
                "programmer": [
                    "    # set membership \udc80 beats the double loop\n    return len(set(items)) != len(items)\n```"
                ],
                "critic": ["Critique: linear \ud800 and correct.\nScore: 5\nDone: no"],
            }
        )
    )
    env = {**os.environ, "ORPS_SCRIPTED_MODEL": str(script)}
    report = tmp_path / "report.html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "orps_lsp.cli",
            "optimize",
            "slowmath.py::has_duplicates",
            "--apply",
            "--depth",
            "1",
            "--report",
            str(report),
        ],
        cwd=example_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        errors="strict",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Traceback" not in result.stderr and "improved:" in result.stdout
    applied = (example_project / "slowmath.py").read_text(encoding="utf-8")
    assert "# set membership \ufffd beats the double loop" in applied
    assert "linear \ufffd and correct" in report.read_text(encoding="utf-8")
