"""Test discovery reads the AST of test files to tie them to one function."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orps_lsp.discovery import NoTestsFound, configured_testpaths, discover_tests, module_import_name


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def found(root: Path, module: str, function: str, **kwargs) -> list[str]:
    selection = discover_tests(root, root / module, function, **kwargs)
    return [str(p) for p in selection.test_files]


def test_import_styles_that_tie_a_test_file_to_the_function(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "def f(): return 1\ndef g(): return 2\n",
            "tests/test_from_import.py": "from pkg.mod import f\ndef test(): assert f() == 1\n",
            "tests/test_module_alias.py": "import pkg.mod as m\ndef test(): assert m.f() == 1\n",
            "tests/test_from_package.py": "from pkg import mod\ndef test(): assert mod.f() == 1\n",
            "tests/test_dotted.py": "import pkg.mod\ndef test(): assert pkg.mod.f() == 1\n",
            "tests/test_star.py": "from pkg.mod import *\ndef test(): assert f() == 1\n",
            "tests/test_reexport.py": "from pkg import f\ndef test(): assert f() == 1\n",
            "tests/test_renamed.py": "from pkg.mod import f as check\ndef test(): assert check() == 1\n",
            "tests/check_test.py": "from pkg.mod import f\ndef test(): assert f() == 1\n",
            # Not tied to f:
            "tests/test_other_function.py": "from pkg.mod import g\ndef test(): assert g() == 2\n",
            "tests/test_only_mentions.py": "import pkg.mod\n# f is tested elsewhere\ndef test(): assert 'f'\n",
            "tests/test_other_module.py": "from other import f\ndef test(): assert f()\n",
            "tests/helpers.py": "from pkg.mod import f\n",
        },
    )
    assert found(tmp_path, "pkg/mod.py", "f") == [
        "tests/check_test.py",
        "tests/test_dotted.py",
        "tests/test_from_import.py",
        "tests/test_from_package.py",
        "tests/test_module_alias.py",
        "tests/test_reexport.py",
        "tests/test_renamed.py",
        "tests/test_star.py",
    ]


def test_src_layout_and_module_name(tmp_path):
    write(
        tmp_path,
        {
            "src/pkg/__init__.py": "",
            "src/pkg/sub/__init__.py": "",
            "src/pkg/sub/mod.py": "def f(): return 1\n",
            "tests/test_mod.py": "from pkg.sub.mod import f\ndef test(): assert f()\n",
        },
    )
    assert module_import_name(tmp_path, tmp_path / "src/pkg/sub/mod.py") == "pkg.sub.mod"
    assert module_import_name(tmp_path, tmp_path / "src/pkg/__init__.py") == "pkg"
    assert found(tmp_path, "src/pkg/sub/mod.py", "f") == ["tests/test_mod.py"]


def test_method_is_found_through_its_class(tmp_path):
    write(
        tmp_path,
        {
            "calc.py": "class Calc:\n    def add(self, a, b): return a + b\n",
            "test_calc.py": "from calc import Calc\ndef test(): assert Calc().add(1, 2) == 3\n",
            "test_unrelated.py": "import calc\ndef test(): assert calc\n",
        },
    )
    assert found(tmp_path, "calc.py", "Calc.add") == ["test_calc.py"]


def test_relative_imports_inside_a_package(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "def f(): return 1\n",
            "pkg/tests/__init__.py": "",
            "pkg/tests/test_rel.py": "from ..mod import f\ndef test(): assert f()\n",
            "pkg/tests/test_rel_module.py": "from .. import mod\ndef test(): assert mod.f()\n",
        },
    )
    assert found(tmp_path, "pkg/mod.py", "f") == ["pkg/tests/test_rel.py", "pkg/tests/test_rel_module.py"]


def test_configured_testpaths_and_skipped_directories(tmp_path):
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["checks"]\n',
            "mod.py": "def f(): return 1\n",
            "checks/test_a.py": "from mod import f\ndef test(): assert f()\n",
            "tests/test_b.py": "from mod import f\ndef test(): assert f()\n",
        },
    )
    assert configured_testpaths(tmp_path) == ["checks"]
    assert found(tmp_path, "mod.py", "f") == ["checks/test_a.py"]

    (tmp_path / "pyproject.toml").unlink()
    write(
        tmp_path,
        {
            "setup.cfg": "[tool:pytest]\ntestpaths = tests\n",
            ".venv/lib/test_venv.py": "from mod import f\n",
            "node_modules/x/test_nm.py": "from mod import f\n",
        },
    )
    assert found(tmp_path, "mod.py", "f") == ["tests/test_b.py"]
    (tmp_path / "setup.cfg").unlink()
    assert found(tmp_path, "mod.py", "f") == ["checks/test_a.py", "tests/test_b.py"]


def test_explicit_paths_and_keyword(tmp_path):
    write(
        tmp_path,
        {
            "mod.py": "def f(): return 1\n",
            "tests/test_a.py": "from mod import f\ndef test(): assert f()\n",
            "special/scenario.py": "import mod\ndef test(): assert mod.f()\n",
        },
    )
    selection = discover_tests(tmp_path, tmp_path / "mod.py", "f", test_paths=["special/scenario.py"], keyword="fast")
    assert selection.test_files == [Path("special/scenario.py")] and selection.keyword == "fast"
    assert found(tmp_path, "mod.py", "f", test_paths=[str(tmp_path / "tests")]) == ["tests/test_a.py"]


def test_no_tests_found_says_where_it_looked_and_what_to_do(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "def lonely(): return 1\n",
            "tests/test_x.py": "import os\ndef test(): assert os\n",
            "tests/test_broken.py": "def test(:\n",
        },
    )
    with pytest.raises(NoTestsFound) as caught:
        discover_tests(tmp_path, tmp_path / "pkg/mod.py", "lonely")
    message = str(caught.value)
    assert "'lonely'" in message and "pkg.mod" in message and "2 test file(s)" in message
    assert "--test-paths PATH" in message and "--no-tests" in message


def reasons(root: Path, module: str, function: str) -> dict[str, str]:
    return discover_tests(root, root / module, function).reasons


def test_tests_reached_through_fixtures_helpers_and_callers_are_found_with_reasons(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "def f(x):\n    return x\n",
            "pkg/recipes.py": "from pkg.mod import f\n\ndef twice(x):\n    return f(f(x))\n",
            "tests/conftest.py": """\
            import pytest
            from pkg import mod

            @pytest.fixture
            def ff():
                return mod.f

            @pytest.fixture
            def built(ff):
                return ff(1)
            """,
            "tests/helpers.py": "from pkg.mod import f\n\ndef check(x):\n    assert f(x) == x\n",
            "tests/test_fixture.py": "def test(ff):\n    assert ff(2) == 2\n",
            "tests/test_transitive_fixture.py": "def test(built):\n    assert built == 1\n",
            "tests/test_usefixtures.py": "import pytest\n\n@pytest.mark.usefixtures('ff')\ndef test():\n    pass\n",
            "tests/test_helper.py": "from helpers import check\n\ndef test():\n    check(3)\n",
            "tests/test_caller.py": "from pkg.recipes import twice\n\ndef test():\n    assert twice(4) == 4\n",
            "tests/test_import_only.py": "from pkg.mod import f  # noqa: F401\n\ndef test():\n    assert True\n",
            "tests/test_other_fixture.py": "def test(tmp_path):\n    assert tmp_path\n",
        },
    )
    found = reasons(tmp_path, "pkg/mod.py", "f")
    assert sorted(found) == [
        "tests/test_caller.py",
        "tests/test_fixture.py",
        "tests/test_helper.py",
        "tests/test_transitive_fixture.py",
        "tests/test_usefixtures.py",
    ]
    assert "fixture ff of tests/conftest.py" in found["tests/test_fixture.py"]
    assert "fixture built" in found["tests/test_transitive_fixture.py"]
    assert "helper tests/helpers.py" in found["tests/test_helper.py"]
    assert "twice of pkg/recipes.py" in found["tests/test_caller.py"]


def test_a_method_needs_its_class_and_a_call_of_the_method(tmp_path):
    write(
        tmp_path,
        {
            "calc.py": "class Calc:\n    def add(self, a, b): return a + b\n    def neg(self, a): return -a\n",
            "test_add.py": "from calc import Calc\ndef test(): assert Calc().add(1, 2) == 3\n",
            "test_neg.py": "from calc import Calc\ndef test(): assert Calc().neg(1) == -1\n",
        },
    )
    assert found(tmp_path, "calc.py", "Calc.add") == ["test_add.py"]


def test_the_modules_doctests_are_chosen_when_the_project_runs_them(tmp_path):
    module = 'def f(x):\n    """Identity.\n\n    >>> f(1)\n    1\n    """\n    return x\n'
    write(tmp_path, {"mod.py": module, "test_mod.py": "from mod import f\ndef test(): assert f(1) == 1\n"})
    assert found(tmp_path, "mod.py", "f") == ["test_mod.py"]
    write(tmp_path, {"pyproject.toml": '[tool.pytest]\naddopts = ["--doctest-modules"]\n'})  # pytest 9's table
    assert found(tmp_path, "mod.py", "f") == ["mod.py", "test_mod.py"]
    write(tmp_path, {"pyproject.toml": "", "setup.cfg": "[tool:pytest]\naddopts = -ra --doctest-modules\n"})
    assert "doctests" in reasons(tmp_path, "mod.py", "f")["mod.py"]


def test_tests_of_a_caller_in_the_same_module_are_found(tmp_path):
    """toolz's itertoolz: `countby` beside `frequencies` in one module; only the tests of
    the caller may exercise the function the way that breaks it."""
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "def f(x):\n    return x\n\ndef twice(x):\n    return f(f(x))\n\ndef other():\n    return 1\n",
            "tests/test_twice.py": "from pkg.mod import twice\n\ndef test():\n    assert twice(4) == 4\n",
            "tests/test_other.py": "from pkg.mod import other\n\ndef test():\n    assert other() == 1\n",
        },
    )
    found = reasons(tmp_path, "pkg/mod.py", "f")
    assert sorted(found) == ["tests/test_twice.py"]
    assert "twice of pkg/mod.py" in found["tests/test_twice.py"]


def test_a_conftest_above_the_testpaths_is_read(tmp_path):
    """pytest reads every conftest.py from the root down to the tests: a fixture in one
    above `testpaths` reaches the tests as well."""
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests/unit"]\n',
            "mod.py": "def f(x):\n    return x\n",
            "tests/conftest.py": "import pytest\nfrom mod import f\n\n@pytest.fixture\ndef ff():\n    return f\n",
            "tests/unit/test_f.py": "def test(ff):\n    assert ff(2) == 2\n",
        },
    )
    found = reasons(tmp_path, "mod.py", "f")
    assert sorted(found) == ["tests/unit/test_f.py"]
    assert "fixture ff of tests/conftest.py" in found["tests/unit/test_f.py"]
