"""Starting one run's pytest process: its command line, its pytest arguments, its environment,
and the start itself, cold (a fresh interpreter under the isolation layer) or forked from the
warm worker.

Only the start lives here. Waiting for the run is waiting.py's job, turning what it left into a
report reporting.py's, and choosing where it runs (a fresh copy or the warm worker's slot)
runner.py's.
"""

from __future__ import annotations

import enum
import itertools
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ..executor import ExecutionTarget
from ..source import SourceError, find_function
from . import instructions, isolation, warm
from .limits import rlimit_settings, sandbox_environment
from .pids import PidsCgroup
from .protocol import (
    CANDIDATE_FILE_VAR,
    CANDIDATE_NAMES_VAR,
    CAPTURE_VAR,
    OWN_NAMESPACE_VAR,
    PLUGIN_MODULE,
    REPLAY_FILE_VAR,
    RESULTS_FD_VAR,
    TIMEOUT_VAR,
)


class Mode(enum.Enum):
    PLAIN = "plain"
    COVERAGE = "coverage"
    COUNT = "count"  # under perf or valgrind


class Launcher:
    """What every run of one executor starts from: the project's facts, decided once on the
    snapshot so that each run's command line is built the same way."""

    def __init__(
        self,
        target: ExecutionTarget,
        project_root: Path,
        relative_file: Path,
        module_names: list[str],
        python_path: Callable[[Path], list[str]],
        coverage_rc: Path,
        hypothesis_unused: bool,
    ) -> None:
        self.target = target
        self._project_root = project_root
        self._relative_file = relative_file
        self._module_names = module_names
        self._python_path = python_path  # the executor's (python_path below, unless replaced)
        self.coverage_rc = coverage_rc
        self._hypothesis_unused = hypothesis_unused

    def environment(
        self,
        source: str,
        project: Path,
        home: Path,
        tmp: Path,
        marker: str,
        measure_path: Path,
        per_test: float,
        *,
        collect_only: bool,
        capture: bool,
        replay: dict[str, Any] | None,
    ) -> tuple[dict[str, str], bool]:
        """The run's scrubbed environment, and whether it judges the candidate (a collect-only
        run names no candidate: it only lists the tests)."""
        judged = (
            {}
            if collect_only
            else {
                CANDIDATE_FILE_VAR: str(project / self._relative_file),
                CANDIDATE_NAMES_VAR: json.dumps(
                    {
                        "modules": self._module_names,
                        "function": self.target.function,
                        "line": definition_line(source, self.target.function),
                    }
                ),
            }
        )
        if capture and judged:
            judged[CAPTURE_VAR] = "1"
        if replay and judged:
            # In the copy (the run sees it; its tmp is a private tmpfs): the plugin reads and removes it first.
            replay_file = project / f".orps-replay-{secrets.token_hex(4)}.json"
            replay_file.write_text(json.dumps(replay), encoding="ascii")
            judged[REPLAY_FILE_VAR] = str(replay_file)
        env = sandbox_environment(
            home,
            tmp,
            marker,
            {
                TIMEOUT_VAR: f"{per_test:g}",
                "PYTHONPATH": os.pathsep.join(self.python_path(project)),
                "COVERAGE_FILE": str(measure_path),
                **judged,
            },
        )
        return env, bool(judged)

    def command(self, mode: Mode, counter: str, project: Path, measure_path: Path, arguments: list[str]) -> list[str]:
        """The command of a cold run."""
        pytest_args = ["-m", "pytest", *arguments]
        if mode is Mode.COVERAGE:
            include = project / self._relative_file
            return [
                sys.executable,
                "-m",
                "coverage",
                "run",
                f"--rcfile={self.coverage_rc}",
                f"--include={include}",
                *pytest_args,
            ]
        if mode is Mode.COUNT:
            # sys.executable, not its resolved target: a venv's python finds its
            # site-packages from the path it was started by.
            return [*instructions.command_prefix(counter, measure_path), sys.executable, *pytest_args]
        return [sys.executable, *pytest_args]

    def pytest_args(self, project: Path, collect_only: bool, workload: bool = False) -> list[str]:
        # Every built-in plugin stays: a project whose options need one (--lf, --sw, faulthandler_timeout
        # under --strict-config) must still run. The cache lives in the run's copy and goes with it.
        pytest_args = [
            "-p",
            PLUGIN_MODULE,
            "-o",
            "faulthandler_timeout=0",  # its timer would replace the plugin's watchdog
            "-q",
            "--continue-on-collection-errors",
            "--rootdir",
            str(project),
            "--color=no",
        ]  # after the project's addopts, so it wins: no ANSI codes in the reports
        if find_spec("xdist") is not None:
            pytest_args.append("-n0")  # results come from this process, not from workers
        if find_spec("pytest_cov") is not None:
            pytest_args.append("--no-cov")  # a --cov in addopts would pause our own coverage (and fail-under voids passes)
        if self._hypothesis_unused:
            # Hypothesis's plugin imports all of Hypothesis at the end of every session (0.5 s, 20 s under
            # valgrind): in the runs of a project that does not use it, it does nothing else.
            pytest_args += ["-p", "no:hypothesispytest"]
        if collect_only:
            pytest_args.append("--collect-only")
        selection = self.target.tests
        if workload:  # first: its calls are recorded before the unit tests' fill the capture
            pytest_args += selection.workload
        pytest_args += [self.in_copy(path) for path in selection.test_files]
        if selection.keyword:
            pytest_args += ["-k", selection.keyword]
        pytest_args += selection.extra_args
        return pytest_args

    def in_copy(self, test_file: Path) -> str:
        """A selected test path as pytest in the copy must see it (relative to the copy)."""
        path = Path(test_file)
        if path.is_absolute() and path.resolve().is_relative_to(self._project_root):
            path = path.resolve().relative_to(self._project_root)
        return str(path)

    def python_path(self, project: Path) -> list[str]:
        """The import path of a run whose copy of the project is `project`."""
        return self._python_path(project)

    def start_warm(
        self,
        worker: warm.WarmWorker,
        mode: Mode,
        project: Path,
        measure_path: Path,
        pytest_args: list[str],
        env: dict[str, str],
        key: str,
        results_path: Path,
        output_path: Path,
        cgroup: PidsCgroup | None,
    ) -> warm.WarmChild:
        """The run forked from the warm worker: the same arguments, limits and environment as a cold one."""
        request = {
            "args": pytest_args,
            "cwd": str(project),
            "key": key,
            "env": {**env, OWN_NAMESPACE_VAR: "1"},
            "rlimits": rlimit_settings(self.target.limits),
            "coverage": {
                "data_file": str(measure_path),
                "rcfile": str(self.coverage_rc),
                "include": str(project / self._relative_file),
            }
            if mode is Mode.COVERAGE
            else None,
        }
        results_fd = os.open(results_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        output_fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            return worker.launch(request, (results_fd, output_fd), cgroup.procs_path if cgroup else None)
        finally:
            os.close(results_fd)
            os.close(output_fd)


def python_path(import_roots: list[Path], project: Path) -> list[str]:
    """The copy first: the user's package must import from it, never from their tree
    or an installed copy. Decided on the snapshot: `project` may not exist yet
    (the warm worker's slot is made after its command line)."""
    return [str(project / root) if root != Path(".") else str(project) for root in import_roots] + [isolation.PLUGIN_ROOT]


def start_cold(
    command: list[str],
    project: Path,
    env: dict[str, str],
    results_path: Path,
    output_path: Path,
    *,
    preexec: Callable[[], None],
    extra_fds: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """A fresh process for the run, its output to `output_path` and its results channel open
    (only the child keeps the descriptor: ours is closed once it is started)."""
    results_fd = os.open(results_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        with open(output_path, "wb") as output:
            return subprocess.Popen(
                command,
                cwd=project,
                env={**env, RESULTS_FD_VAR: str(results_fd)},
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(results_fd, *extra_fds),
                # Rlimits have no other hook in Popen; the function only makes
                # setsid/setrlimit calls and one write, prepared before the fork.
                preexec_fn=preexec,  # noqa: PLW1509
            )
    finally:
        os.close(results_fd)


def send_key(popen: subprocess.Popen[bytes], key: str) -> None:
    """The results channel's key, on stdin: never in the environment or the command line,
    where the candidate could read it before the plugin has taken it."""
    assert popen.stdin is not None
    try:
        popen.stdin.write(key.encode("ascii"))
        popen.stdin.close()
    except OSError:
        pass  # the child died before reading it; the wait reports why


def definition_line(source: str, function: str) -> int:
    """Where the candidate's definition starts (its first decorator): the import check
    tells it from another definition of the name in the same file. 0 when not found."""
    try:
        return find_function(source, function).start_line
    except SourceError:
        return 0


def mentions_hypothesis(root: Path, test_files: list[Path], module: Path) -> bool:
    """Whether the project's tests may use Hypothesis: the word in the judged test files, the
    conftest.py files above them, the module or the pytest configuration."""
    files = {module, *(root / name for name in ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini"))}
    for path in test_files:
        files.update(itertools.islice(path.rglob("*.py"), 500) if path.is_dir() else [path])
        for parent in path.parents:
            files.add(parent / "conftest.py")
            if parent == root or root not in parent.parents:
                break
    for path in files:
        try:
            if path.is_file() and "hypothesis" in path.read_text(encoding="utf-8", errors="replace").lower():
                return True
        except OSError:
            continue
    return False
