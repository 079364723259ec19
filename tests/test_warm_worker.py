"""The warm worker: runs forked from a loaded pytest must be as separate as cold runs.

Under bubblewrap every run but the instruction counts is forked from one
worker per executor (sandbox/zygote.py). What one run leaves behind (files in
/tmp, the home directory or the project, processes, a changed test file, a
signal to the worker) must not reach the next run; the corpus in
test_hostile.py checks each run on its own.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import psutil
import pytest

from orps_lsp.executor import ExecutionTarget, SandboxLimits, TestSelection
from orps_lsp.sandbox import isolation
from orps_lsp.sandbox.executor import PytestExecutor
from orps_lsp.sandbox.warm import WARM_VAR, WarmUnavailable, WarmWorker, third_party_imports

pytestmark = pytest.mark.skipif("bwrap" not in isolation.available_layers(), reason="the warm worker needs bubblewrap")

ORIGINAL = "def add(a, b):\n    return a + b\n"
TESTS = textwrap.dedent("""\
    import json
    from pkg.mod import add


    def test_add():
        assert add(1, 2) == 3


    def test_add_more():
        assert add(2, 2) == 4
    """)
LIMITS = SandboxLimits(per_test_timeout=3, total_timeout=30, memory_mb=1024, cpu_seconds=30)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text(ORIGINAL)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mod.py").write_text(TESTS)
    return tmp_path


def executor_for(project: Path, **limits) -> PytestExecutor:
    target = ExecutionTarget(
        project,
        project / "pkg" / "mod.py",
        "add",
        TestSelection([Path("tests/test_mod.py")]),
        SandboxLimits(**{**LIMITS.__dict__, **limits}),
    )
    return PytestExecutor(target)


def leaving(action: str) -> str:
    """A candidate that passes and does `action` (indented code) on the way."""
    return "def add(a, b):\n" + textwrap.indent(textwrap.dedent(action), "    ") + "    return a + b\n"


def finding(check: str) -> str:
    """A candidate that fails exactly when `check` (an expression) is true."""
    return f"def add(a, b):\n    if {check}:\n        return 0\n    return a + b\n"


def test_runs_are_forked_from_one_worker(project: Path) -> None:
    with executor_for(project) as executor:
        assert executor.run(ORIGINAL).passed == 2
        workers = executor.warm_worker_pids()
        assert len(workers) == 2  # bubblewrap and the worker, its namespace's init
        for _ in range(3):
            assert executor.run(ORIGINAL.replace("a + b", "b + a")).passed == 2
        assert executor.warm_worker_pids() == workers
        assert all(psutil.pid_exists(pid) for pid in workers)
        assert "runs forked from a warm pytest worker" in executor.describe_isolation()
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in workers)


def test_the_worker_can_be_turned_off(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WARM_VAR, "0")
    with executor_for(project) as executor:
        assert executor.run(ORIGINAL).passed == 2
        assert executor.warm_worker_pids() == set()
    with executor_for(project, warm_worker=False) as executor:
        assert executor.run(ORIGINAL).passed == 2
        assert executor.warm_worker_pids() == set()


def test_a_worker_that_died_is_replaced(project: Path) -> None:
    with executor_for(project) as executor:
        executor.run(ORIGINAL)
        first = executor.warm_worker_pids()
        for pid in first:
            psutil.Process(pid).kill()
        assert executor.run(ORIGINAL).passed == 2
        assert executor.warm_worker_pids() and executor.warm_worker_pids() != first


def test_runs_go_cold_when_the_worker_cannot_start(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self) -> None:
        raise WarmUnavailable("no worker today")

    monkeypatch.setattr(WarmWorker, "start", refuse)
    with executor_for(project) as executor:
        assert executor.run(ORIGINAL).passed == 2
        assert executor.run("def add(a, b):\n    return a - b\n").passed == 0
        assert executor.warm_worker_pids() == set()
        assert "each run a fresh interpreter" in executor.describe_isolation()


@pytest.mark.parametrize(
    ("left", "found"),
    [
        ("open('/tmp/cache', 'w').write('x')\n", "__import__('os').path.exists('/tmp/cache')"),
        (
            "import os\nopen(os.path.join(os.environ['HOME'], 'cache'), 'w').write('x')\n",
            "__import__('os').path.exists(__import__('os').path.join(__import__('os').environ['HOME'], 'cache'))",
        ),
        (
            "import tempfile, os\nopen(os.path.join(tempfile.gettempdir(), 'cache'), 'w').write('x')\n",
            "__import__('os').path.exists(__import__('os').path.join(__import__('tempfile').gettempdir(), 'cache'))",
        ),
        ("open('/dev/shm/cache', 'w').write('x')\n", "__import__('os').path.exists('/dev/shm/cache')"),
        ("open('pkg/cache.py', 'w').write('x = 1')\n", "__import__('os').path.exists('pkg/cache.py')"),
        ("open('conftest.py', 'w').write('import sys')\n", "__import__('os').path.exists('conftest.py')"),
        ("import sys\nsys.modules.setdefault('cache_marker', sys)\n", "'cache_marker' in __import__('sys').modules"),
        (
            "import subprocess\nsubprocess.run(['ipcmk', '-M', '4096'], capture_output=True)\n",
            "len(open('/proc/sysvipc/shm').read().splitlines()) > 1",
        ),
    ],
)
def test_nothing_a_run_leaves_reaches_the_next(project: Path, left: str, found: str) -> None:
    with executor_for(project) as executor:
        executor.run(leaving(left))  # passes, or fails for changing the project's tests (a new conftest.py)
        assert executor.run(finding(found)).passed == 2, "the second run saw what the first left"
        assert executor.warm_worker_pids()  # still warm


def test_a_process_left_running_is_gone_before_the_next_run(project: Path) -> None:
    detach = """\
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                open('/tmp/alive', 'w').close()
                while True:
                    time.sleep(0.01)
                    open('/tmp/alive', 'w').close()
            os._exit(0)
        os.wait()
        time.sleep(0.2)
        """
    with executor_for(project) as executor:
        first = executor.run(leaving(detach))
        assert "background process" in first.error
        workers = executor.warm_worker_pids()
        # Only the worker's own two processes remain under this one.
        assert {p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE} == workers
        assert executor.run(finding("__import__('os').path.exists('/tmp/alive')")).passed == 2


def test_the_worker_survives_signals_from_a_run(project: Path) -> None:
    attack = """\
        import os, signal
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGINT):
            try:
                os.kill(1, sig)
                os.kill(os.getppid(), sig)
            except OSError:
                pass
        """
    with executor_for(project) as executor:
        executor.run(ORIGINAL)
        workers = executor.warm_worker_pids()
        assert executor.run(leaving(attack)).passed == 2
        assert executor.run(ORIGINAL).passed == 2
        assert executor.warm_worker_pids() == workers


def test_a_changed_test_file_is_not_used_by_the_next_run(project: Path) -> None:
    """The tests are read-only in the sandbox; moving their directory aside starts a new worker."""
    tamper = """\
        import os, shutil
        try:
            os.rename('tests', 'old_tests')
            os.mkdir('tests')
            open('tests/test_mod.py', 'w').write('def test_add():\\n    pass\\n\\ndef test_add_more():\\n    pass\\n')
        except OSError:
            pass
        """
    with executor_for(project) as executor:
        executor.run(ORIGINAL)
        executor.run(leaving(tamper))
        wrong = executor.run("def add(a, b):\n    return a - b\n")
        assert (wrong.passed, wrong.total) == (0, 2)
        assert executor.run(ORIGINAL).passed == 2


def test_worker_and_cold_runs_agree(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    candidates = [
        ORIGINAL,
        "def add(a, b):\n    return a - b\n",
        "def add(a, b)\n    return a\n",
        "import no_such_module\n" + ORIGINAL,
        "def add(a, b):\n    raise SystemExit(3)\n",
    ]
    results = {}
    for warm in (True, False):
        with executor_for(project, warm_worker=warm) as executor:
            results[warm] = [
                (r.passed, r.failed, r.total, r.error, [(t.nodeid, t.outcome, t.message) for t in r.tests])
                for r in (executor.run(source) for source in candidates)
            ]
            coverage = executor.run(ORIGINAL, measure_coverage=True).coverage
            assert coverage == 1.0
    assert results[True] == results[False]


def test_third_party_imports_leave_the_project_out(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "helpers.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import json, os.path\nfrom pkg.mod import f\nimport helpers\nfrom . import local\nfrom collections import deque\n"
    )
    assert third_party_imports(tmp_path, [Path("tests/test_x.py")]) == ["json", "os", "collections"]


def test_the_libraries_the_tests_import_are_loaded_ahead(project: Path) -> None:
    (project / "tests" / "test_mod.py").write_text(TESTS.replace("import json\n", "") + "\nimport colorsys\n")
    loaded_before_the_tests = "import sys\nLOADED = 'colorsys' in sys.modules\n\n" + finding("not LOADED")
    with executor_for(project) as warm, executor_for(project, warm_worker=False) as cold:
        assert warm.run(loaded_before_the_tests).passed == 2
        assert cold.run(loaded_before_the_tests).passed == 0  # a fresh interpreter has not imported it yet


def test_a_library_that_starts_threads_is_not_loaded_ahead(project: Path) -> None:
    """Forking a process with threads can leave a lock held forever in the child."""
    (project / "threadlib.py").write_text(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    )
    # Outside the project (a library), so the worker would load it ahead.
    site = project.parent / f"{project.name}-site"
    site.mkdir()
    (project / "threadlib.py").rename(site / "threadlib.py")
    (project / "tests" / "test_mod.py").write_text(TESTS + "\nimport threadlib\n")  # after the candidate's import
    target = ExecutionTarget(project, project / "pkg" / "mod.py", "add", TestSelection([Path("tests/test_mod.py")]), LIMITS)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(site))  # bubblewrap shows this interpreter's import path (read-only)
        patch.setattr(PytestExecutor, "_python_path", lambda self, copy: [str(copy), str(site), isolation.PLUGIN_ROOT])
        with PytestExecutor(target) as executor:
            assert executor.run(ORIGINAL).passed == 2
            assert executor.warm_worker_pids()  # warm, without the library
            loaded_ahead = "import sys\nLOADED = 'threadlib' in sys.modules\n\n" + finding("LOADED")
            assert executor.run(loaded_ahead).passed == 2


def test_a_run_cannot_write_into_the_workers_memory(project: Path) -> None:
    """The worker is its namespace's init, of the same uid as the runs it forks: were it
    dumpable, a run could write /proc/1/mem (its heap zeroed here) and poison every later
    run, the original's too. It is not: the write fails, the worker lives on unharmed."""
    poison = leaving("""
        import re
        try:
            with open("/proc/1/maps") as maps, open("/proc/1/mem", "r+b", buffering=0) as memory:
                for line in maps:
                    if line.rstrip().endswith("[heap]"):
                        start, end = (int(x, 16) for x in re.match(r"([0-9a-f]+)-([0-9a-f]+)", line).groups())
                        memory.seek(start)
                        memory.write(bytes(end - start))
            raise AssertionError("the worker's memory was writable")
        except PermissionError:
            pass
        """)
    with executor_for(project) as executor:
        assert executor.run(ORIGINAL).passed == 2
        workers = executor.warm_worker_pids()
        assert executor.run(poison).passed == 2, "the run could write into the worker's memory"
        assert executor.run(ORIGINAL).passed == 2
        assert executor.warm_worker_pids() == workers


def test_files_a_run_leaves_beside_its_project_are_gone_before_the_next(project: Path) -> None:
    """The slot's root (the run's directory, the project's parent) is the run's to write
    in; what it left there must not reach the next run, nor count against its disk."""
    litter = leaving("""
        import os
        with open(os.path.join(os.getcwd(), "..", "litter.bin"), "wb") as out:
            out.write(b"x" * (4 << 20))
        """)
    with executor_for(project) as executor:
        assert executor.run(litter).passed == 2
        assert executor.run(finding("__import__('os').path.exists('../litter.bin')")).passed == 2
