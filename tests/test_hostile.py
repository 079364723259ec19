"""The hostile corpus (tests/hostile/cases.py) against the real sandbox.

Every case runs under the strongest isolation layer this machine offers and
under "none" (rlimits, session, private HOME/TMPDIR, scrubbed environment
only), and must leave, within a time bound:
  - a failed or timed-out candidate whose report gives the expected reason;
  - no process of the run (descendants, the run's process group and session,
    anything carrying the run's marker variable);
  - the user's project and home directory (decoys) byte for byte unchanged;
  - no connection on a TCP listener on 127.0.0.1;
  - no decoy secret (environment, key file, credentials) in the report.
A case that needs a layer the run lacks (cases.py: `needs`) is skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from pathlib import Path

import psutil
import pytest
from hostile.cases import CASES, Case

from orps_lsp.config import SearchConfig
from orps_lsp.executor import ExecutionTarget, SandboxLimits, TestSelection
from orps_lsp.model.scripted import ScriptedModel
from orps_lsp.sandbox import isolation, pids, runner
from orps_lsp.sandbox.launch import Launcher
from orps_lsp.sandbox.executor import PytestExecutor
from orps_lsp.sandbox.protocol import MARKER_VAR
from orps_lsp.search import SearchTask, run_search
from orps_lsp.source import find_function

ORIGINAL = "def add(a, b):\n    return a + b\n"
TESTS = {
    "tests/test_mod.py": "from pkg.mod import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "tests/test_more.py": "from pkg.mod import add\n\n\ndef test_add_more():\n    assert add(2, 2) == 4\n",
}
ENV_SECRET = "decoy-aws-env-SECRET-7f3a9c51"
KEY_SECRET = "ZGVjb3kta2V5LW1hdGVyaWFsLWRvLW5vdC11c2U"
FILE_SECRET = "decoy-aws-file-SECRET-51c2e8d0"
SECRETS = (ENV_SECRET, KEY_SECRET, FILE_SECRET)
LIMITS = SandboxLimits(per_test_timeout=1.5, total_timeout=15, memory_mb=512, cpu_seconds=10, max_processes=32, file_size_mb=16)
CASE_SECONDS = 25.0  # the slowest case (an unkillable loop) takes about 5 s; slack for a busy machine
LAYERS = list(dict.fromkeys([isolation.available_layers()[0], "none"]))


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self, unix_path: str | None = None) -> None:
        """On 127.0.0.1, or on a unix socket at `unix_path`."""
        if unix_path is None:
            self.server = socket.create_server(("127.0.0.1", 0))
            self.port = self.server.getsockname()[1]
        else:
            self.server = socket.socket(socket.AF_UNIX)
            self.server.bind(unix_path)
            self.server.listen()
            self.path = unix_path
        self.server.settimeout(0.2)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.server.close()


@dataclasses.dataclass
class World:
    project: Path
    home: Path
    listener: Listener
    decoy_pid: int  # a process of the user's whose environment holds a secret
    unix_listener: Listener  # where the session bus, docker's or an agent's socket would be: /run


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    project = tmp_path_factory.mktemp("user_project")
    (project / "pkg").mkdir()
    (project / "pkg" / "__init__.py").write_text("")
    (project / "pkg" / "mod.py").write_text(ORIGINAL)
    (project / "tests").mkdir()
    for relative, text in TESTS.items():
        (project / relative).write_text(text)
    home = tmp_path_factory.mktemp("decoy_home")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text(
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_SECRET}\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(f"[default]\naws_secret_access_key = {FILE_SECRET}\n")
    (home / ".bashrc").write_text("export PATH=$HOME/bin:$PATH\n")
    listener = Listener()
    socket_dir = next(
        (d for d in ("/run", os.environ.get("XDG_RUNTIME_DIR", "")) if d and os.access(d, os.W_OK)),
        str(tmp_path_factory.mktemp("sockets")),
    )
    unix_path = os.path.join(socket_dir, f"orps-hostile-{os.getpid()}.sock")
    unix_listener = Listener(unix_path)
    decoy = subprocess.Popen(["sleep", "600"], env={**os.environ, "AWS_SECRET_ACCESS_KEY": ENV_SECRET})
    with pytest.MonkeyPatch.context() as patch:
        # Set before any executor exists: it learns the secrets to mask, and
        # bubblewrap hides this home, from the environment.
        patch.setenv("HOME", str(home))
        patch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
        yield World(project, home, listener, decoy.pid, unix_listener)
    decoy.kill()
    decoy.wait()
    listener.close()
    unix_listener.close()
    os.unlink(unix_path)


class RecordingExecutor(PytestExecutor):
    """An executor whose runs' process group leaders and markers are recorded (`started`, filled
    by recording_starts), to look for leftovers."""

    started: list[tuple[int, str]]


@contextmanager
def recording_starts() -> Iterator[list[tuple[int, str]]]:
    """Every run started meanwhile, cold (runner.start_cold) or in the warm worker
    (Launcher.start_warm): its process group leader and marker."""
    started: list[tuple[int, str]] = []
    real_cold, real_warm = runner.start_cold, Launcher.start_warm

    def cold(command: Any, project: Any, env: dict[str, str], *args: Any, **kwargs: Any) -> Any:
        popen = real_cold(command, project, env, *args, **kwargs)
        started.append((popen.pid, env[MARKER_VAR]))
        return popen

    def warm(
        self: Launcher, worker: Any, mode: Any, project: Any, measure_path: Any, pytest_args: Any, env: dict[str, str], *args: Any
    ) -> Any:
        child = real_warm(self, worker, mode, project, measure_path, pytest_args, env, *args)
        started.append((child.pid, env[MARKER_VAR]))
        return child

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "start_cold", cold)
        patch.setattr(Launcher, "start_warm", warm)
        yield started


@pytest.fixture(scope="module", params=LAYERS)
def sandbox(request: pytest.FixtureRequest, world: World) -> Iterator[RecordingExecutor]:
    limits = dataclasses.replace(LIMITS, isolation=request.param)
    selection = TestSelection([Path(p) for p in TESTS])
    target = ExecutionTarget(world.project, world.project / "pkg" / "mod.py", "add", selection, limits)
    with recording_starts() as started, RecordingExecutor(target) as executor:
        executor.started = started
        assert executor.isolation.layer == request.param
        yield executor


def missing_layers(case: Case, executor: PytestExecutor) -> list[str]:
    layer = executor.isolation
    lacking = {
        "fs": not layer.protects_files,
        "home": not layer.protects_files,
        "net": not layer.blocks_network,
        "pidns": layer.layer != "bwrap",
        "pids": not (pids.available() or os.geteuid() != 0),
    }
    return sorted(need for need in case.needs if lacking[need])


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def reason_of(report) -> str:
    if report.error:
        return report.error
    return next((t.message for t in report.tests if t.outcome != "passed"), "")


def leftovers(executor: RecordingExecutor, exclude: set[int]) -> list[str]:
    """Processes of the executor's runs still alive: by descent, by group/session, by marker."""
    found = {}
    exclude = exclude | executor.warm_worker_pids()  # the worker itself lives as long as the executor
    for proc in psutil.Process().children(recursive=True):
        if proc.pid not in exclude:
            found[proc.pid] = proc
    leaders = {pid for pid, _ in executor.started}
    markers = {marker for _, marker in executor.started}
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) in leaders or os.getsid(proc.pid) in leaders:
                found[proc.pid] = proc
            elif proc.environ().get(MARKER_VAR) in markers:
                found[proc.pid] = proc
        except (OSError, psutil.Error):
            continue
    alive = []
    for proc in found.values():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {proc.name()}")
        except psutil.Error:
            continue
    return alive


def fill(source: str, world: World) -> str:
    return (
        source.replace("@PROJECT@", str(world.project))
        .replace("@HOME@", str(world.home))
        .replace("@PORT@", str(world.listener.port))
        .replace("@SOCKET@", world.unix_listener.path)
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_candidate_is_contained(sandbox: RecordingExecutor, world: World, case: Case) -> None:
    missing = missing_layers(case, sandbox)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: not held by isolation '{sandbox.isolation.layer}'")
    project_before, home_before = tree_digest(world.project), tree_digest(world.home)
    accepted_before = world.listener.accepted, world.unix_listener.accepted
    sandbox.started.clear()

    started = time.monotonic()
    if case.file_size_mb is None:
        report = sandbox.run(fill(case.source, world))
    else:  # a smaller budget than the corpus's: filling it takes less time than the per-test limit
        limits = dataclasses.replace(sandbox.target.limits, file_size_mb=case.file_size_mb)
        with RecordingExecutor(dataclasses.replace(sandbox.target, limits=limits)) as own:
            own.started = sandbox.started
            report = own.run(fill(case.source, world))
    elapsed = time.monotonic() - started

    reason = reason_of(report)
    assert report.total == 2 and report.passed < report.total, (report.passed, reason)
    assert re.search(case.reason, reason), f"reason {reason!r} does not match {case.reason!r}"
    assert len(reason.splitlines()[0]) < 300
    assert elapsed < CASE_SECONDS
    assert not leftovers(sandbox, {world.decoy_pid})
    assert tree_digest(world.project) == project_before
    assert tree_digest(world.home) == home_before
    assert (world.listener.accepted, world.unix_listener.accepted) == accepted_before
    shown = json.dumps(dataclasses.asdict(report))
    assert not [s for s in SECRETS if s in shown]


def test_the_executor_still_works_after_the_corpus(sandbox: RecordingExecutor) -> None:
    sandbox.started.clear()
    report = sandbox.run(ORIGINAL)
    assert (report.passed, report.total, report.error) == (2, 2, "")
    # The leftover check sees the runs (candidates refused before running start none): if the
    # executor started its processes elsewhere than recording_starts looks, it would look for nothing.
    assert sandbox.started, "no run was recorded"


def test_isolation_is_described(sandbox: RecordingExecutor) -> None:
    text = sandbox.describe_isolation()
    assert text.startswith({"bwrap": "bubblewrap", "netns": "network namespace", "none": "no namespace"}[sandbox.isolation.layer])
    assert "rlimits" in text and "scrubbed environment" in text


def test_layer_choice_and_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "available_layers", lambda: ("netns", "none"))
    monkeypatch.delenv(isolation.ISOLATION_VAR, raising=False)
    assert isolation.resolve().layer == "netns"
    monkeypatch.setenv(isolation.ISOLATION_VAR, "none")
    assert isolation.resolve().layer == "none"
    assert isolation.resolve("netns").layer == "netns"  # an explicit setting beats the variable
    monkeypatch.setattr(isolation, "_unusable_reason", lambda layer: "bwrap is not installed")
    fallback = isolation.resolve("bwrap")
    assert fallback.layer == "netns" and "bwrap requested but not usable here" in fallback.note
    assert fallback.note in fallback.describe()


def test_bubblewrap_command_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Home read-only and empty, /tmp private, only the run writable, its tests read-only."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    run_dir, test_file = tmp_path / "run", tmp_path / "run" / "project" / "tests" / "test_x.py"
    command = isolation.Isolation("bwrap").wrap(
        ["python", "-m", "pytest"],
        run_dir=run_dir,
        cwd=run_dir / "project",
        protected=[test_file],
        scratch={run_dir / "tmp": 1024},
    )
    text = " ".join(command)
    assert command[0].endswith("bwrap") and command[-4:] == ["--", "python", "-m", "pytest"]
    assert "--ro-bind / /" in text and "--unshare-all" in text and "--die-with-parent" in text
    assert f"--tmpfs {home}" in text and f"--remount-ro {home}" in text
    assert text.index(f"--bind {run_dir} {run_dir}") < text.index(f"--ro-bind {test_file} {test_file}")
    assert f"--size 1024 --tmpfs {run_dir / 'tmp'}" in text


def test_a_search_keeps_running_through_hostile_candidates(world: World) -> None:
    """The beam search with a scripted model: hostile candidates fail, the good one wins."""
    answers = iter(
        [
            "    while True:\n        pass\n```",
            "    import os\n    os._exit(0)\n```",
            "    import _pytest.runner as runner\n    runner.call_and_report = None\n    return 0\n```",
            "    return b + a\n```",
        ]
    )
    model = ScriptedModel(lambda messages, prefill: next(answers, "    return a + b\n```"))
    config = SearchConfig(
        beam_width=1,
        expansions=4,
        depth=1,
        use_critic=False,
        finalists=1,
        timing_repeats=1,
        instruction_counter="none",
        min_speedup=0.0,
    )
    selection = TestSelection([Path(p) for p in TESTS])
    target = ExecutionTarget(world.project, world.project / "pkg" / "mod.py", "add", selection, LIMITS)
    task = SearchTask(mode="optimize", file=str(target.file), source=ORIGINAL, function=find_function(ORIGINAL, "add"))
    with PytestExecutor(target) as executor:
        result = run_search(task, model, executor, config)
    executed = [n.execution for n in result.nodes if n.execution is not None]
    assert len(executed) == 4
    assert sum(1 for e in executed if e.passed == e.total == 2) == 1
    assert all(e.error for e in executed if e.passed < e.total)
    assert not psutil.Process().children(recursive=True) or all(
        p.pid == world.decoy_pid for p in psutil.Process().children(recursive=True)
    )


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_what_measures_coverage_and_instructions_is_not_trusted(sandbox: RecordingExecutor, kind: str) -> None:
    """A passing candidate that puts a FIFO (or a directory) where the coverage data and the
    instruction counter's output go: those runs are measured as nothing, never waited on."""
    make = "os.mkfifo(path)" if kind == "fifo" else "os.makedirs(os.path.join(path, 'inner'))"
    source = textwrap.dedent(f"""
        import os
        def add(a, b):
            for path in ("../coverage.data", "../count.out"):
                try:
                    if os.path.lexists(path) and not os.path.isdir(path):
                        os.unlink(path)
                    {make}
                except OSError:
                    pass
            return a + b
        """)
    started = time.monotonic()
    report = sandbox.run(source, measure_coverage=True, count_instructions=True)
    assert (report.passed, report.total) == (2, 2), report.error
    # Measured as nothing, or by a counter that replaced the FIFO with its own file: never waited on.
    assert report.coverage is None or 0.0 <= report.coverage <= 1.0
    assert time.monotonic() - started < 120


def test_no_new_unix_socket_under_bubblewrap(sandbox: RecordingExecutor) -> None:
    """seccomp.py's filter: socket(AF_UNIX) fails, socketpair (asyncio's, multiprocessing's) works."""
    if sandbox.isolation.layer != "bwrap":
        pytest.skip("the seccomp filter is given to bubblewrap")
    source = textwrap.dedent("""
        import socket
        def add(a, b):
            try:
                socket.socket(socket.AF_UNIX).close()
            except PermissionError:
                left, right = socket.socketpair()
                left.close()
                right.close()
                return a + b
            return a - b
        """)
    report = sandbox.run(source)
    assert (report.passed, report.total) == (2, 2), report.error or report.tests
