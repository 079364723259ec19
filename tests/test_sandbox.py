"""The sandbox runs the real pytest on a tiny project built in a temp dir."""

from __future__ import annotations

import hashlib
import os
import shutil
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from hostile.cases import at_first_call

from orps_lsp.cancel import Cancelled, CancelToken
from orps_lsp.executor import ExecutionTarget, SandboxLimits, TestSelection
from orps_lsp.sandbox.executor import PytestExecutor
from orps_lsp.sandbox.metrics import function_line_range, static_metrics

ORIGINAL = """\
def add(a, b):
    return a + b


def sign(x):
    if x > 0:
        return 1
    return -1
"""

TESTS = """\
from pkg.mod import add, sign


def test_add():
    assert add(1, 2) == 3


def test_add_negative():
    assert add(-2, -3) == -5


def test_sign():
    assert sign(5) == 1
"""

LIMITS = SandboxLimits(per_test_timeout=1.5, total_timeout=20, memory_mb=512, cpu_seconds=20)


def write_project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(ORIGINAL)
    (root / "tests").mkdir()
    (root / "tests" / "test_mod.py").write_text(TESTS)
    return root / "pkg" / "mod.py"


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def make_target(root: Path, module: Path, function: str = "add", **limits: float) -> ExecutionTarget:
    chosen = SandboxLimits(**{**LIMITS.__dict__, **limits})
    return ExecutionTarget(root, module, function, TestSelection([Path("tests/test_mod.py")]), chosen)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    """The user's project; every test in this file must leave it byte for byte unchanged."""
    root = tmp_path_factory.mktemp("user_project")
    module = write_project(root)
    before = tree_digest(root)
    yield root, module
    assert tree_digest(root) == before


@pytest.fixture(scope="module")
def executor(project):
    root, module = project
    with PytestExecutor(make_target(root, module)) as shared:
        yield shared


def candidate(body: str) -> str:
    """The original module with `add` replaced by `body`."""
    return textwrap.dedent(body) + ORIGINAL[ORIGINAL.index("\n\ndef sign") :]


def no_children_left(executor: PytestExecutor | None = None) -> bool:
    """No process of a run is left; an open executor's warm worker (bubblewrap and its init) may stay."""
    spared = executor.warm_worker_pids() if executor is not None else set()
    return not [
        p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE and p.pid not in spared
    ]


def test_passing_candidate(executor):
    report = executor.run(ORIGINAL)
    assert (report.passed, report.failed, report.total) == (3, 0, 3)
    assert report.error == "" and not report.timed_out
    assert {t.nodeid for t in report.tests} == {
        "tests/test_mod.py::test_add",
        "tests/test_mod.py::test_add_negative",
        "tests/test_mod.py::test_sign",
    }
    assert report.wall_time is not None and report.cpu_time is not None and report.runs == 1
    assert report.peak_rss_kb and report.peak_rss_kb > 1000
    assert report.static.nloc == 2 and report.static.parameter_count == 2
    assert no_children_left(executor)


def test_failing_candidate_keeps_the_assertion_message(executor):
    report = executor.run(candidate("def add(a, b):\n    return a - b\n"))
    assert (report.passed, report.failed, report.total) == (1, 2, 3)
    failed = {t.nodeid: t for t in report.tests if t.outcome == "failed"}
    assert "assert -1 == 3" in failed["tests/test_mod.py::test_add"].message
    assert report.error == ""  # failing tests are results, not a broken run


def test_syntax_error_fails_every_test_with_the_reason(executor):
    report = executor.run(candidate("def add(a, b)\n    return a + b\n"))
    assert report.error.startswith("SyntaxError in candidate:") and "line 1" in report.error
    assert report.total == 3 and report.passed == 0
    assert all(t.outcome == "error" and t.message == report.error for t in report.tests)


def test_import_error_is_reported_for_every_test(executor):
    report = executor.run("import no_such_module_xyz\n" + ORIGINAL)
    assert report.error == "import failed: ModuleNotFoundError: No module named 'no_such_module_xyz'"
    assert report.total == 3 and all(t.outcome == "error" for t in report.tests)


def test_infinite_loop_hits_the_per_test_timeout(executor):
    start = time.monotonic()
    report = executor.run(candidate("def add(a, b):\n    while True:\n        pass\n"))
    assert time.monotonic() - start < 8
    assert report.timed_out and "timed out after 1.5 s" in report.error
    assert report.passed == 1  # test_sign still ran: the soft timeout only stops the hung test
    hung = [t for t in report.tests if "timed out" in t.message]
    assert len(hung) == 2 and all(t.outcome == "failed" for t in hung)


def test_loop_in_c_code_is_stopped_by_the_watchdog(executor):
    start = time.monotonic()
    report = executor.run(candidate("def add(a, b):\n    return sum(range(10**13))\n"))
    assert time.monotonic() - start < 8
    assert report.timed_out and report.passed == 0 and report.total == 3
    assert "Timeout" in report.output_tail  # faulthandler's stack dump shows where it hung
    assert no_children_left(executor)


def test_memory_bomb_is_stopped_by_the_memory_limit(executor):
    report = executor.run(candidate("def add(a, b):\n    return len(bytearray(4 * 1024**3))\n"))
    assert report.passed == 1 and report.failed == 2
    assert "memory" in report.error.lower() and "512 MB" in report.error


def test_cpu_limit_kills_the_run(project):
    root, module = project
    with PytestExecutor(make_target(root, module, cpu_seconds=1, per_test_timeout=10)) as executor:
        report = executor.run(candidate("def add(a, b):\n    while True:\n        pass\n"))
    assert report.error == "killed: CPU time limit (1 s) exceeded"
    assert report.passed == 0 and report.total == 3


def test_code_at_import_is_refused_before_running(executor):
    for prologue in ("import sys\nsys.exit(3)\n", "import os\nos._exit(3)\n"):
        report = executor.run(prologue + ORIGINAL)
        assert report.passed == 0 and report.total == 3
        assert report.error.startswith("refused before running: the candidate adds code that runs at import (line 2: ")


def test_sys_exit_in_a_test_is_an_error(executor):
    report = executor.run(at_first_call("import sys\nsys.exit(3)\n" + ORIGINAL))
    assert report.passed < report.total == 3  # the test that called it fails; the session goes on
    assert any(t.outcome == "failed" and "SystemExit" in t.message for t in report.tests), report.tests


def test_os_exit_in_a_test_is_a_process_death(executor):
    report = executor.run(at_first_call("import os\nos._exit(3)\n" + ORIGINAL))
    assert "exited with code 3" in report.error
    assert report.passed == 0 and report.total == 3


def test_forged_results_are_ignored(executor):
    forge = textwrap.dedent(
        """\
        import json, os
        for fd in range(3, 1024):
            for nodeid in ("tests/test_mod.py::test_add", "tests/test_mod.py::test_sign"):
                line = json.dumps({"kind": "test", "nodeid": nodeid, "outcome": "passed", "nonce": ""})
                try:
                    os.write(fd, (line + "\\n").encode())
                except OSError:
                    pass
        os._exit(0)
        """
    )
    report = executor.run(at_first_call(forge + ORIGINAL))
    assert report.passed == 0 and report.total == 3
    assert report.error.startswith("forged test results on the results channel")


def test_writes_land_in_the_copy_not_the_users_tree(executor, project):
    root, _ = project
    vandal = textwrap.dedent(
        """\
        import os, pathlib
        here = pathlib.Path(__file__).resolve().parent
        (here / "mod.py").write_text("broken")
        (here.parent / "tests" / "test_mod.py").write_text("")
        pathlib.Path("created_by_candidate.txt").write_text("x")
        def add(a, b):
            return a + b
        """
    )
    report = executor.run(vandal + ORIGINAL[ORIGINAL.index("\n\ndef sign") :])
    assert report.total == 3
    assert not (root / "created_by_candidate.txt").exists()
    # The snapshot is untouched as well: the next run sees the real tests.
    assert executor.run(ORIGINAL).passed == 3


def test_detached_grandchild_does_not_survive(executor):
    # Found by its command line: under bubblewrap the candidate sees neither
    # this test's files nor the host's process ids.
    sleeper = "61.2345"
    spawner = textwrap.dedent(
        f"""\
        import subprocess
        def add(a, b):
            subprocess.Popen(["sleep", "{sleeper}"], start_new_session=True)
            return a + b
        """
    )
    report = executor.run(spawner + ORIGINAL[ORIGINAL.index("\n\ndef sign") :])
    assert report.passed == 3  # a child left running is killed, not held against the candidate
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", sleeper]]
    assert no_children_left(executor)


def test_cancel_from_another_thread_stops_the_run(project, executor):
    root, module = project
    token = CancelToken()
    with PytestExecutor(make_target(root, module, per_test_timeout=30), token) as cancelled:
        cancelled.run(ORIGINAL)  # warm: the reference collection is done
        threading.Timer(0.8, token.cancel).start()
        start = time.monotonic()
        with pytest.raises(Cancelled):
            cancelled.run(candidate("def add(a, b):\n    while True:\n        pass\n"))
        assert time.monotonic() - start < 2.0
    assert no_children_left(executor)  # the closed executor's worker is gone too


def test_repeats_take_the_best_time(executor):
    report = executor.run(ORIGINAL, repeats=3)
    assert report.runs == 3 and report.passed == 3
    assert report.wall_time is not None and report.wall_time > 0


def test_coverage_of_the_function_body(project):
    root, module = project
    with PytestExecutor(make_target(root, module, function="sign")) as executor:
        report = executor.run(ORIGINAL, measure_coverage=True)
    assert report.coverage == pytest.approx(2 / 3)  # `return -1` never runs


def test_environment_is_scrubbed(executor, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sekrit")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy")
    snoop = textwrap.dedent(
        f"""\
        import os
        def add(a, b):
            assert "OPENAI_API_KEY" not in os.environ and "HTTPS_PROXY" not in os.environ
            assert os.environ["HOME"] != {os.environ.get("HOME", "")!r}
            assert os.environ["PYTHONHASHSEED"] == "0"
            return a + b
        """
    )
    assert executor.run(snoop + ORIGINAL[ORIGINAL.index("\n\ndef sign") :]).passed == 3


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_count_with_valgrind(executor, monkeypatch):
    from orps_lsp.sandbox import instructions

    monkeypatch.setattr(instructions, "available_counter", lambda: "valgrind")
    cheap = executor.run(ORIGINAL, count_instructions=True)
    costly = executor.run(candidate("def add(a, b):\n    return sum([1] * 200_000) * 0 + a + b\n"), count_instructions=True)
    assert cheap.instruction_counter == costly.instruction_counter == "valgrind"
    assert cheap.instructions is not None and costly.instructions is not None
    assert costly.instructions > cheap.instructions + 1_000_000


def test_function_line_range_and_static_metrics():
    source = textwrap.dedent(
        """\
        class Calc:
            def add(self, a, b):
                '''Add.'''
                if a:
                    return a + b
                return b
        """
    )
    assert function_line_range(source, "Calc.add") == (3, 6)
    metrics = static_metrics(source, "Calc.add")
    assert metrics.cyclomatic_complexity == 2 and metrics.parameter_count == 3
    assert static_metrics(source, "missing").nloc == 0
    with pytest.raises(LookupError):
        function_line_range(source, "Calc.missing")


def test_no_private_directories_are_left(project):
    root, module = project
    executor = PytestExecutor(make_target(root, module))
    private = executor._private
    executor.run(ORIGINAL)
    executor.close()
    assert not private.exists()


def test_timeouts_shrink_to_the_originals_test_times(project):
    """Once the original ran (fast tests), an endless candidate is cut off after about 2 s, not 10 s."""
    root, module = project
    with PytestExecutor(make_target(root, module, per_test_timeout=10.0, total_timeout=60.0)) as executor:
        assert executor.run(ORIGINAL).passed == 3
        started = time.monotonic()
        report = executor.run(ORIGINAL.replace("return a + b", "while True:\n        pass"))
        elapsed = time.monotonic() - started
    assert report.passed == 1  # test_sign still passes
    assert "2 s" in report.error or "timed out after 2" in " ".join(t.message for t in report.tests)
    assert elapsed < 9.0
