"""No faked pass from a test module that is not its file (issue: hostile candidates, round two, kind 1).

Here a test module calls the function when it is imported (`ZERO = add(0, 0)`), so the
candidate's code runs during collection, before pytest imports the second test
module: the moment to plant a look-alike of it or an import hook that rewrites it.
Each candidate below is wrong (`add` returns 0) and does that on its first call; the
run must not count its passes. The original, on the same project, passes as it is.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orps_lsp.executor import ExecutionTarget, SandboxLimits, TestSelection
from orps_lsp.sandbox import isolation
from orps_lsp.sandbox.executor import PytestExecutor

ORIGINAL = "def add(a, b):\n    return a + b\n"
TESTS = {
    "tests/test_a.py": "from pkg.mod import add\n\nZERO = add(0, 0)\n\n\ndef test_zero():\n    assert ZERO == 0\n",
    "tests/test_b.py": (
        "import pytest\n\nfrom pkg.mod import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n\n\n"
        "def test_add_raises():\n    with pytest.raises(TypeError):\n        add(1, None)\n"
    ),
}
LIMITS = SandboxLimits(per_test_timeout=5, total_timeout=30, memory_mb=512, cpu_seconds=20)
LAYERS = list(dict.fromkeys([isolation.available_layers()[0], "none"]))

# Each runs once, from the first call (test_a's import), and leaves `add` wrong.
_FIND_B = """
def _test_b_path():
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(here), "tests", "test_b.py")
"""
FORGERIES = {
    "an import hook strips the asserts": """
        import ast, importlib.abc, importlib.machinery, importlib.util, sys

        class _Strip(importlib.abc.MetaPathFinder, importlib.abc.Loader):
            def find_spec(self, name, path, target=None):
                if name.rpartition(".")[2] == "test_b":
                    spec = importlib.machinery.PathFinder.find_spec(name, path)
                    if spec is not None:
                        return importlib.util.spec_from_file_location(name, spec.origin, loader=self)
                return None

            def create_module(self, spec):
                return None

            def exec_module(self, module):
                tree = ast.parse(open(module.__spec__.origin).read())
                for node in ast.walk(tree):
                    if isinstance(getattr(node, "body", None), list):
                        node.body = [n for n in node.body if not isinstance(n, (ast.Assert, ast.With))] or [ast.Pass()]
                module.__file__ = module.__spec__.origin
                exec(compile(ast.fix_missing_locations(tree), module.__file__, "exec"), module.__dict__)

        sys.meta_path.insert(0, _Strip())
        """,
    "a look-alike compiled under the real file name": """
        import sys, types
        fake = types.ModuleType("test_b")
        fake.__file__ = _test_b_path()
        exec(compile("def test_add():\\n    pass\\n\\n\\ndef test_add_raises():\\n    pass\\n", fake.__file__, "exec"),
             fake.__dict__)
        for name in ("test_b", "tests.test_b"):
            sys.modules[name] = fake
        """,
    "the real code with a fake add among its globals": """
        import sys, types
        fake = types.ModuleType("test_b")
        fake.__file__ = _test_b_path()
        exec(compile(open(fake.__file__).read(), fake.__file__, "exec"), fake.__dict__)
        fake.add = lambda a, b: a + b if b is not None else (_ for _ in ()).throw(TypeError())
        for name in ("test_b", "tests.test_b"):
            sys.modules[name] = fake
        """,
    "the real code run with other globals": """
        import sys, types
        real = {}
        exec(compile(open(_test_b_path()).read(), _test_b_path(), "exec"), real)
        cheat = dict(real, add=lambda a, b: a + b if b is not None else (_ for _ in ()).throw(TypeError()))
        fake = types.ModuleType("test_b")
        fake.__file__ = _test_b_path()
        fake.__dict__.update(real)
        for name in ("test_add", "test_add_raises"):
            setattr(fake, name, types.FunctionType(real[name].__code__, cheat, name))
        for name in ("test_b", "tests.test_b"):
            sys.modules[name] = fake
        """,
    "the test file rewritten before it is imported": """
        try:
            open(_test_b_path(), "w").write("def test_add():\\n    pass\\n\\n\\ndef test_add_raises():\\n    pass\\n")
        except OSError:
            pass  # read-only under bubblewrap: the tests stay as they are
        """,
}


def candidate(attack: str) -> str:
    """A wrong `add` that runs `attack` once, on its first call."""
    body = textwrap.indent(textwrap.dedent(attack).strip("\n"), " " * 8)
    return (
        f"{_FIND_B}\n\ndef _attack():\n    if True:\n{body}\n\n\n"
        "def add(a, b):\n"
        "    if not getattr(add, 'done', False):\n"
        "        add.done = True\n"
        "        _attack()\n"
        "    return 0\n"
    )


@pytest.fixture(scope="module", params=LAYERS)
def executor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PytestExecutor]:
    project = tmp_path_factory.mktemp("imports_at_collection")
    (project / "pkg").mkdir()
    (project / "pkg" / "__init__.py").write_text("")
    (project / "pkg" / "mod.py").write_text(ORIGINAL)
    (project / "tests").mkdir()
    for relative, text in TESTS.items():
        (project / relative).write_text(text)
    limits = dataclasses.replace(LIMITS, isolation=request.param)
    target = ExecutionTarget(project, project / "pkg" / "mod.py", "add", TestSelection([Path(p) for p in TESTS]), limits)
    with PytestExecutor(target) as executor:
        original = executor.run(ORIGINAL)
        assert (original.passed, original.total, original.error) == (3, 3, ""), original
        yield executor


@pytest.mark.parametrize("attack", list(FORGERIES), ids=list(FORGERIES))
def test_a_test_module_that_is_not_its_file_voids_the_run(executor: PytestExecutor, attack: str) -> None:
    report = executor.run(candidate(FORGERIES[attack]))
    passed = [t.nodeid for t in report.tests if t.outcome == "passed"]
    # test_zero may pass on its own merit (add(0, 0) is 0); nothing of test_b's may.
    assert report.total == 3 and not [p for p in passed if "test_b" in p], (passed, report.error)


def test_the_original_still_passes_after_them(executor: PytestExecutor) -> None:
    report = executor.run(ORIGINAL)
    assert (report.passed, report.total, report.error) == (3, 3, "")
