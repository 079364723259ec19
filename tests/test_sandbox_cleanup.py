"""A server killed in the middle of a run leaves nothing behind (issue: hostile candidates, round
two, kind 3): the run's processes die with it, and its copy is removed when the next executor starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from orps_lsp.sandbox import isolation
from orps_lsp.sandbox.workspace import private_directory

# A server stand-in: an executor that starts a run of a candidate that never returns,
# says where its copy is, and waits to be killed.
SERVER = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from orps_lsp.executor import ExecutionTarget, SandboxLimits, TestSelection
    from orps_lsp.sandbox.executor import PytestExecutor

    root = Path(sys.argv[1])
    limits = SandboxLimits(per_test_timeout=120, total_timeout=300, isolation=sys.argv[2])
    target = ExecutionTarget(root, root / "pkg" / "mod.py", "add", TestSelection([Path("tests/test_mod.py")]), limits)
    executor = PytestExecutor(target)
    print(executor._private, flush=True)
    executor.run("import time\\ndef add(a, b):\\n    time.sleep(600)\\n")
""")


def write_project(root: Path) -> None:
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_mod.py").write_text("from pkg.mod import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")


@pytest.mark.parametrize("layer", list(dict.fromkeys([isolation.available_layers()[0], "none"])))
def test_a_killed_server_leaves_no_process_and_no_copy(tmp_path: Path, layer: str) -> None:
    write_project(tmp_path)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path), layer], stdout=subprocess.PIPE, text=True)
    try:
        private = Path(server.stdout.readline().strip())
        assert private.is_dir() and str(os.getpid()) not in private.name
        deadline = time.monotonic() + 60
        run = None
        while run is None and time.monotonic() < deadline:  # the run's pytest is sleeping in the candidate
            run = next(
                (
                    p
                    for p in psutil.Process(server.pid).children(recursive=True)
                    if "pytest" in " ".join(p.cmdline()) or "zygote" in " ".join(p.cmdline())
                ),
                None,
            )
            time.sleep(0.2)
        assert run is not None, "the run did not start"
        time.sleep(1.0)
        processes = psutil.Process(server.pid).children(recursive=True)
        assert processes
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    deadline = time.monotonic() + 10
    while _living(processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _living(processes), _living(processes)
    assert private.exists()  # nobody could remove it: the server was killed
    fresh = private_directory()  # what the next executor does first
    try:
        assert not private.exists()
    finally:
        fresh.rmdir()


def _living(processes: list[psutil.Process]) -> list[str]:
    """Those still running (a zombie is dead: whoever inherited it has not reaped it yet)."""
    living = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                living.append(" ".join(process.cmdline())[:120])
        except psutil.NoSuchProcess:
            pass
    return living


def test_a_double_fork_with_a_clean_environment_dies_with_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the weakest layer and without a pids cgroup (as for a user who is not root), a
    daemon that drops the run's marker is handed to the run's subreaper, not to init."""
    from orps_lsp.executor import ExecutionTarget, SandboxLimits, TestSelection
    from orps_lsp.sandbox import executor as sandbox_executor

    monkeypatch.setattr(sandbox_executor.PidsCgroup, "create", classmethod(lambda cls, max_pids: None))
    token = f"orps-daemon-{os.getpid()}-{time.monotonic_ns()}"
    write_project(tmp_path)
    candidate = textwrap.dedent(f'''
        import os, sys, time
        def add(a, b):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.chdir("/")  # out of the sandbox: the final sweep looks for working directories inside it
                    time.sleep(0.5)  # orphaned by now: what it forks next was never the run's descendant
                    if os.fork() == 0:
                        os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "{token}"],
                                  {{}})
                    os._exit(0)
                os._exit(0)
            os.wait()
            time.sleep(1.0)
            return a + b
        ''')
    limits = SandboxLimits(per_test_timeout=10, total_timeout=30, isolation="none")
    target = ExecutionTarget(tmp_path, tmp_path / "pkg" / "mod.py", "add", TestSelection([Path("tests/test_mod.py")]), limits)
    with sandbox_executor.PytestExecutor(target) as executor:
        executor.run(candidate)
    deadline = time.monotonic() + 5
    while _with_token(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _with_token(token)
    for process in left:
        process.kill()
    assert not left, [p.cmdline() for p in left]


def _with_token(token: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if token in " ".join(process.info["cmdline"] or []) and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found
