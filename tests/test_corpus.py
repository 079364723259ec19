"""Real projects as they are (tests/corpus_projects.py): for each, under the warm worker and
cold runs, in a user's environment (orps-lsp without its test extras, the project
installed as its users install it), the original runs, a wrong candidate is refused, a
right one passes, and an applied edit touches only the function.

The model is scripted (the wrong rewrite, then the right one); everything else is real:
the CLI, the sandbox, pytest and the project's own tests and configuration.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

import pytest
import user_env
from corpus_projects import PROJECTS, Project

from orps_lsp.extract import extract_candidate
from orps_lsp.source import find_function, replace_function


def body_answer(rewrite: str) -> str:
    """A scripted answer as the model gives it: the answer is prefilled with the
    original's header, so it holds the body and the closing fence."""
    function = ast.parse(rewrite).body[0]
    lines = rewrite.splitlines()
    return "\n".join(lines[function.body[0].lineno - 1 :]) + "\n```"


def run_orps(
    python: Path, project: Project, tree: Path, answers: list[str], tmp_path: Path, mode: str, *extra: str
) -> subprocess.CompletedProcess:
    script = tmp_path / "answers.json"
    script.write_text(json.dumps(answers))
    env = {**os.environ, "ORPS_SCRIPTED_MODEL": str(script), "ORPS_WARM_WORKER": "1" if mode == "warm" else "0"}
    return subprocess.run(
        [
            str(python),
            "-m",
            "orps_lsp.cli",
            "optimize",
            f"{project.file}::{project.function}",
            "--json",
            "--quiet",
            "--depth",
            "1",
            "--expansions",
            "2",
            "--instruction-counter",
            "none",
            *extra,
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def outside_function(source: str, qualname: str) -> list[str]:
    info = find_function(source, qualname)
    lines = source.splitlines()
    return lines[: info.start_line - 1] + lines[info.end_line :]


@pytest.mark.parametrize("mode", ["warm", "cold"])
@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_real_project(user_python, project: Project, mode: str, tmp_path: Path) -> None:
    tree = user_env.project_tree(project)
    module = tree / project.file
    before = module.read_bytes()
    source = before.decode("utf-8")
    answers = [body_answer(project.wrong), body_answer(project.right)]
    try:
        result = run_orps(user_python, project, tree, answers, tmp_path, mode, "--apply")
        assert result.returncode in (0, 1), f"{project.what}\n{result.stderr[-4000:]}"
        report = json.loads(result.stdout)
        original = report["original"]
        # The original ran its tests, and they judged the module in the sandbox's copy.
        assert original["passed"] > 0 and not original["start_error"], original
        original_passes = {t["nodeid"] for t in original["tests"] if t["outcome"] == "passed"}
        first, second = sorted(report["nodes"], key=lambda n: n["id"])  # generated in the answers' order
        by_code = {"wrong": first, "right": second}
        wrong, right = first["execution"], second["execution"]
        wrong_passes = {t["nodeid"] for t in wrong["tests"] if t["outcome"] == "passed"}
        right_passes = {t["nodeid"] for t in right["tests"] if t["outcome"] == "passed"}
        assert original_passes - wrong_passes, f"the wrong rewrite passed every test the original passes: {wrong}"
        assert report["best_id"] != by_code["wrong"]["id"]
        assert original_passes <= right_passes, f"the right rewrite failed: {right['error']} {right['tests'][:3]}"
        # The original is the oracle on real code: its calls are captured, and the right rewrite behaves alike.
        assert original["capture"]["usable"] > 0, original["capture"]
        assert right["behaviour"]["different"] == 0, right["behaviour"]["differences"]
        assert right["behaviour"]["identical"] == right["behaviour"]["compared"] > 0, right["behaviour"]
        after = module.read_text(encoding="utf-8")
        if result.returncode == 0:
            assert report["best_id"] == by_code["right"]["id"] and "applied to" in result.stderr
            assert outside_function(after, project.function) == outside_function(source, project.function)
            assert find_function(after, project.function).docstring == find_function(source, project.function).docstring
            tests = list(report["tests"])
            check = subprocess.run(
                [str(user_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                cwd=tree,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert check.returncode == 0, check.stdout[-3000:]  # the project's own run, on the applied file
        else:
            assert after == source and "nothing offered" in report["verdict"]
    finally:
        module.write_bytes(before)


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_the_edit_of_a_right_candidate_touches_only_the_function(user_python, project: Project) -> None:
    """What --apply and the editor's edit write: the function replaced, its docstring kept, the rest byte for byte
    (checked here whether or not the search finds the rewrite measurably faster)."""
    source = (user_env.project_tree(project) / project.file).read_text(encoding="utf-8")
    info = find_function(source, project.function)
    candidate = extract_candidate(info.header + "\n" + body_answer(project.right), info)
    assert candidate.ok, candidate.error
    new = replace_function(source, project.function, candidate.imports, candidate.definitions)
    assert outside_function(new, project.function) == outside_function(source, project.function)
    assert find_function(new, project.function).docstring == info.docstring


def test_installing_orps_lsp_adds_no_pytest_plugin_to_the_users_environment(user_python) -> None:
    """`pip install orps-lsp` must not change how the user's own suite runs (pytest-asyncio,
    which the development extras bring, breaks markupsafe, toolz and humanize)."""
    listed = subprocess.run(
        [
            str(user_python),
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps(sorted({e.dist.name for e in m.entry_points(group='pytest11')})))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Any plugin here must be a decision made here, not a side effect of a new dependency:
    # anyio (httpx's dependency) acts only on tests marked @pytest.mark.anyio; Hypothesis (the
    # generated inputs) only on tests that use @given: no header line, no .hypothesis folder
    # for a suite without it (the corpus suites run under it in the tests above, unchanged).
    assert json.loads(listed.stdout) == ["anyio", "hypothesis"]


def stubbed(source: str, qualname: str) -> str:
    """The module with the function's body (docstring kept) replaced by `raise NotImplementedError`."""
    info = find_function(source, qualname)
    node = ast.parse(info.source).body[0]
    lines = info.source.splitlines()
    keep = node.body[0].end_lineno if ast.get_docstring(node) is not None else node.body[0].lineno - 1
    indent = " " * node.body[0].col_offset
    stub = "\n".join(lines[:keep] + [indent + "raise NotImplementedError"])
    return replace_function(source, qualname, [], stub)


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_solving_a_stubbed_function_applies_an_edit_that_touches_only_it(user_python, project: Project, tmp_path: Path) -> None:
    """The applied edit, end to end on a real project: the function made a stub (as a user
    writes one), solved with the wrong then the right rewrite, written by --apply; the
    rest of the file is byte for byte the same, and the project's own tests pass."""
    tree = user_env.project_tree(project)
    module = tree / project.file
    before = module.read_bytes()
    try:
        stub_source = stubbed(before.decode("utf-8"), project.function)
        module.write_text(stub_source, encoding="utf-8")
        answers = [body_answer(project.wrong), body_answer(project.right)]
        script = tmp_path / "answers.json"
        script.write_text(json.dumps(answers))
        result = subprocess.run(
            [
                str(user_python),
                "-m",
                "orps_lsp.cli",
                "solve",
                f"{project.file}::{project.function}",
                "--json",
                "--quiet",
                "--depth",
                "1",
                "--expansions",
                "2",
                "--apply",
            ],
            cwd=tree,
            env={**os.environ, "ORPS_SCRIPTED_MODEL": str(script)},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(result.stdout)
        assert report["verdict"].startswith("solved") and "applied to" in result.stderr
        assert report["best_id"] == max(n["id"] for n in report["nodes"])  # the right one, not the wrong
        after = module.read_text(encoding="utf-8")
        assert outside_function(after, project.function) == outside_function(stub_source, project.function)
        assert find_function(after, project.function).docstring == find_function(stub_source, project.function).docstring
        check = subprocess.run(
            [str(user_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *report["tests"]],
            cwd=tree,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert check.returncode == 0, check.stdout[-3000:]
    finally:
        module.write_bytes(before)
