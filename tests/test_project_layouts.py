"""Real projects as they are: the candidate is what the tests import, under the warm
worker and cold runs alike, on src/ layouts, strict pytest configurations and tests
that reach the function through conftest fixtures; the original must run cleanly first.

Each project here is built in a temp dir and run with the real pytest in the real
sandbox; tests/test_corpus.py does the same on published projects.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from orps_lsp.discovery import discover_tests
from orps_lsp.executor import ExecutionTarget, SandboxLimits
from orps_lsp.sandbox.executor import PytestExecutor

LIMITS = SandboxLimits(per_test_timeout=5, total_timeout=30, memory_mb=1024, cpu_seconds=30)

MOD = "def double(x):\n    return 2 * x\n"
WRONG = "def double(x):\n    return x + 1\n"  # right for x == 1 only


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def executor_for(root: Path, module: str, function: str = "double") -> PytestExecutor:
    selection = discover_tests(root, root / module, function)
    return PytestExecutor(
        ExecutionTarget(project_root=root, file=root / module, function=function, tests=selection, limits=LIMITS)
    )


def test_src_layout_judges_the_candidate_not_the_original(tmp_path, run_mode):
    """src/ on the path of every run, the warm worker's included (its slot did not exist yet
    when its path was decided, so the worker lacked src/ and an editable install won)."""
    write(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'pkg'\nversion = '0'\n",
            "src/pkg/__init__.py": "",
            "src/pkg/mod.py": MOD,
            "tests/test_mod.py": "from pkg.mod import double\n\ndef test_two():\n    assert double(2) == 4\n\n"
            "def test_one():\n    assert double(1) == 2\n",
        },
    )
    with executor_for(tmp_path, "src/pkg/mod.py") as executor:
        original = executor.run(MOD)
        assert (original.passed, original.total, original.start_error) == (2, 2, "")
        wrong = executor.run(WRONG)
        assert wrong.passed == 1 and wrong.failed == 1, wrong.summary()


def test_tests_that_import_another_copy_of_the_module_fail_loudly(tmp_path, run_mode):
    """Another copy of the package first on sys.path (as an installed or editable copy is):
    the tests pass, but they judge that copy, so the run counts for nothing."""
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": MOD,
            "vendor/pkg/__init__.py": "",
            "vendor/pkg/mod.py": MOD,
            "tests/conftest.py": "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parents[1] / 'vendor'))\n",
            "tests/test_mod.py": "from pkg.mod import double\n\ndef test_two():\n    assert double(2) == 4\n",
        },
    )
    with executor_for(tmp_path, "pkg/mod.py") as executor:
        report = executor.run(WRONG)
    assert report.passed == 0
    assert "imported pkg" in report.error and "vendor" in report.error, report.error
    assert "not the candidate" in report.start_error


def test_a_function_the_module_replaces_after_defining_it_is_not_what_is_judged(tmp_path, run_mode):
    write(
        tmp_path,
        {
            "fast.py": "def double(x):\n    return x * 2\n",
            "mod.py": MOD + "\ntry:\n    from fast import double\nexcept ImportError:\n    pass\n",
            "test_mod.py": "from mod import double\n\ndef test_two():\n    assert double(2) == 4\n",
        },
    )
    with executor_for(tmp_path, "mod.py") as executor:
        report = executor.run(WRONG + "\ntry:\n    from fast import double\nexcept ImportError:\n    pass\n")
    assert report.passed == 0
    assert "replaces the function" in report.error and "fast.py" in report.error, report.error


def test_a_function_the_module_rebinds_in_the_same_file_is_not_what_is_judged(tmp_path, run_mode):
    """`double = _double_fast` further down the same file: the tests call that, not the candidate."""
    rebind = "\ndef _double_fast(x):\n    return x << 1\n\ndouble = _double_fast\n"
    write(
        tmp_path,
        {
            "mod.py": MOD + rebind,
            "test_mod.py": "from mod import double\n\ndef test_two():\n    assert double(2) == 4\n",
        },
    )
    with executor_for(tmp_path, "mod.py") as executor:
        report = executor.run(WRONG + rebind)
        decorated = executor.run("import functools\n\n@functools.lru_cache\n" + MOD)
    assert report.passed == 0
    assert "_double_fast at line" in report.error, report.error
    assert decorated.passed == 1 and not decorated.error, decorated.error  # a decorator's wrapper is the candidate


@pytest.mark.parametrize(
    "loader",
    [
        "import importlib.util\nspec = importlib.util.spec_from_file_location('m', HERE / 'mod.py')\n"
        "m = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(m)\ndouble = m.double\n",
        "import runpy\ndouble = runpy.run_path(str(HERE / 'mod.py'))['double']\n",
    ],
)
def test_tests_that_load_the_module_by_its_path_judge_the_candidate(tmp_path, run_mode, loader):
    write(
        tmp_path,
        {
            "mod.py": MOD,
            "test_mod.py": "from pathlib import Path\nHERE = Path(__file__).parent\n"
            + loader
            + "\ndef test_two():\n    assert double(2) == 4\n",
        },
    )
    selection = discover_tests(tmp_path, tmp_path / "mod.py", "double", test_paths=["test_mod.py"])
    with PytestExecutor(
        ExecutionTarget(project_root=tmp_path, file=tmp_path / "mod.py", function="double", tests=selection, limits=LIMITS)
    ) as executor:
        right, wrong = executor.run(MOD), executor.run(WRONG)
    assert (right.passed, right.error) == (1, ""), right.error
    assert wrong.passed == 0


def test_filterwarnings_error_and_strict_config_run_the_original(tmp_path, run_mode, user_python):
    """No warning of ours reaches the project's filterwarnings (the warm worker's plugin was
    imported before pytest could rewrite it); built-in plugins the options need stay loaded.
    In a user's environment: the development venv's pytest-asyncio warns under filterwarnings=error."""
    write(
        tmp_path,
        {
            "pyproject.toml": textwrap.dedent("""\
            [tool.pytest.ini_options]
            addopts = "--strict-config --strict-markers -ra --color=yes"
            filterwarnings = ["error"]
            faulthandler_timeout = 30
            cache_dir = ".cache/pytest"
            markers = ["slow: slow tests"]
            """),
            "mod.py": MOD,
            "test_mod.py": "import pytest\nfrom mod import double\n\n@pytest.mark.slow\ndef test_two():\n    assert double(2) == 4\n\n"
            "def test_fails():\n    assert double(3) == 7\n",
        },
    )
    (tmp_path / "answers.json").write_text(json.dumps(["    return x * 2\n```"]))
    env = {**os.environ, "ORPS_SCRIPTED_MODEL": str(tmp_path / "answers.json")}
    result = subprocess.run(
        [
            str(user_python),
            "-m",
            "orps_lsp.cli",
            "optimize",
            "mod.py::double",
            "--json",
            "--quiet",
            "--depth",
            "1",
            "--expansions",
            "1",
            "--instruction-counter",
            "none",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    original = json.loads(result.stdout)["original"]
    assert (original["passed"], original["failed"], original["start_error"]) == (1, 1, ""), original
    failing = next(t for t in original["tests"] if t["outcome"] == "failed")
    assert "\x1b[" not in failing["message"] and "\x1b[" not in original["output_tail"]  # --color=no wins over addopts


@pytest.mark.parametrize(
    "problem, files, expected",
    [
        (
            "collection error",
            {"test_mod.py": "from mod import double\nimport not_installed_anywhere\n\ndef test():\n    assert double(1)\n"},
            "collecting test_mod.py failed",
        ),
        (
            "every test skips itself",
            {"test_mod.py": "import pytest\nfrom mod import double\n\ndef test():\n    pytest.skip('no')\n    double(1)\n"},
            "skipped itself",
        ),
    ],
)
def test_an_original_whose_tests_do_not_start_says_why(tmp_path, run_mode, problem, files, expected):
    write(tmp_path, {"mod.py": MOD, **files})
    with executor_for(tmp_path, "mod.py") as executor:
        report = executor.run(MOD)
    assert expected in report.start_error, (problem, report.start_error)


def test_runtime_skips_are_counted_as_skipped(tmp_path, run_mode):
    write(
        tmp_path,
        {
            "mod.py": MOD,
            "test_mod.py": "import pytest\nfrom mod import double\n\ndef test_two():\n    assert double(2) == 4\n\n"
            "def test_optional():\n    pytest.importorskip('not_installed_anywhere')\n    assert double(1)\n\n"
            "@pytest.mark.skip\ndef test_marked():\n    double(1)\n",
        },
    )
    with executor_for(tmp_path, "mod.py") as executor:
        report = executor.run(MOD)
    assert (report.passed, report.failed, report.skipped, report.total) == (1, 0, 1, 2), report.summary()
    assert report.start_error == ""


@pytest.mark.parametrize("provider", ["pytest_benchmark", "the project"])
def test_benchmark_tests_are_left_out_of_the_correctness_run(tmp_path, run_mode, provider):
    """pytest-benchmark's `benchmark` fixture marks a workload; a project's own fixture
    of that name is just a fixture, and its tests judge like any other."""
    fixture = "import pytest\n\n@pytest.fixture\ndef benchmark():\n    return lambda f, *a: f(*a)\n"
    files = {
        "mod.py": MOD,
        "test_mod.py": "from mod import double\n\ndef test_two():\n    assert double(2) == 4\n\n"
        "def test_speed(benchmark):\n    assert benchmark(double, 3) == 6\n",
    }
    if provider == "pytest_benchmark":  # the plugin's module, as pytest-benchmark registers it
        files |= {
            "pytest_benchmark/__init__.py": "",
            "pytest_benchmark/plugin.py": fixture,
            "conftest.py": "pytest_plugins = ['pytest_benchmark.plugin']\n",
        }
    else:
        files |= {"conftest.py": fixture}
    write(tmp_path, files)
    with executor_for(tmp_path, "mod.py") as executor:
        report = executor.run(MOD)
    expected = ["test_mod.py::test_two"] + (["test_mod.py::test_speed"] if provider == "the project" else [])
    assert sorted(t.nodeid for t in report.tests) == sorted(expected)


def test_tests_reached_through_an_autouse_conftest_fixture_judge_the_candidate(tmp_path, run_mode):
    """markupsafe's shape: the tests call a public function; an autouse fixture plugs in the
    implementation module under test. Discovery finds them; a wrong implementation fails them."""
    write(
        tmp_path,
        {
            "src/lib/__init__.py": "from lib import _impl\n\ndef public(x):\n    return _impl.double(x) + 0\n",
            "src/lib/_impl.py": MOD,
            "tests/conftest.py": textwrap.dedent("""\
            import pytest
            import lib
            from lib import _impl

            @pytest.fixture(autouse=True, params=[_impl])
            def implementation(request):
                lib._impl = request.param
            """),
            "tests/test_public.py": "from lib import public\n\ndef test_public():\n    assert public(3) == 6\n",
        },
    )
    selection = discover_tests(tmp_path, tmp_path / "src/lib/_impl.py", "double")
    assert [str(p) for p in selection.test_files] == ["tests/test_public.py"]
    assert "autouse fixture implementation" in selection.reasons["tests/test_public.py"]
    with executor_for(tmp_path, "src/lib/_impl.py") as executor:
        assert executor.run(MOD).passed == 1
        assert executor.run(WRONG).failed == 1


def test_a_namespace_package_in_src_judges_the_candidate(tmp_path, run_mode):
    write(
        tmp_path,
        {
            "src/company/tools/__init__.py": "",  # company/ has no __init__.py: a namespace package
            "src/company/tools/mod.py": MOD,
            "tests/test_mod.py": "from company.tools.mod import double\n\ndef test_two():\n    assert double(2) == 4\n",
        },
    )
    with executor_for(tmp_path, "src/company/tools/mod.py") as executor:
        assert executor.run(MOD).passed == 1
        assert executor.run(WRONG).failed == 1


def test_a_module_imported_under_two_names_is_the_candidate_under_both(tmp_path, run_mode):
    """The tests import it as `pkg.mod` and, through a conftest that puts pkg/ on the path, as `mod`."""
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": MOD,
            "tests/conftest.py": "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parents[1] / 'pkg'))\n",
            "tests/test_mod.py": "import mod\nfrom pkg.mod import double\n\ndef test_two():\n    assert double(2) == 4\n\n"
            "def test_plain_name():\n    assert mod.double(3) == 6\n",
        },
    )
    with executor_for(tmp_path, "pkg/mod.py") as executor:
        original = executor.run(MOD)
        assert (original.passed, original.start_error) == (2, ""), original.summary()
        assert executor.run(WRONG).failed == 2


def test_a_module_outside_any_package_beside_a_stdlib_name_runs(tmp_path, run_mode):
    """app/mod.py beside app/types.py, no __init__.py: app/ must not go first on the path (it
    would shadow the standard library's `types`), and `types` is no look-alike of the module."""
    write(
        tmp_path,
        {
            "app/mod.py": MOD,
            "app/types.py": "KIND = 1\n",
            "tests/test_mod.py": "from app.mod import double\n\ndef test_two():\n    assert double(2) == 4\n",
        },
    )
    with executor_for(tmp_path, "app/mod.py") as executor:
        report = executor.run(MOD)
    assert (report.passed, report.start_error) == (1, ""), report.summary()


@pytest.mark.parametrize("addopts", ["-x", "--maxfail=1", "--sw", "-x --sw --lf"])
def test_options_that_stop_early_do_not_hide_a_wrong_candidate(tmp_path, run_mode, addopts):
    """The original fails its first test; under -x or --sw it would stop there, and a
    candidate that breaks a later test would be judged on the first one alone."""
    write(
        tmp_path,
        {
            "pytest.ini": f"[pytest]\naddopts = {addopts}\n",
            "mod.py": MOD,
            "test_mod.py": "from mod import double\n\ndef test_a_known_failure():\n    assert double(3) == 7\n\n"
            "def test_two():\n    assert double(2) == 4\n",
        },
    )
    with executor_for(tmp_path, "mod.py") as executor:
        original = executor.run(MOD)
        wrong = executor.run(WRONG)
        wrong_again = executor.run(WRONG)  # --lf / --sw read the cache of the run before
    assert (original.passed, original.failed) == (1, 1)
    assert (wrong.passed, wrong.failed) == (0, 2)
    assert (wrong_again.passed, wrong_again.failed) == (0, 2)
