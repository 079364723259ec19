"""The executor's side of the warm worker (the worker itself: zygote.py).

One worker per executor, started on the first run that can use it, serving
runs one at a time in a fixed run directory (the "slot"). Between runs the
executor refreshes the slot's project from the snapshot (the tests, bound
read-only in the sandbox, are left alone: a changed one means a new worker),
and the worker kills every process of the run and empties the scratch
directories, so each run starts from what a cold run would see.

Only under bubblewrap: the worker relies on being its pid namespace's init
(it cannot be killed from inside, and `kill(-1)` reaches exactly the run's
processes). With a weaker isolation layer the executor starts each run cold.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from . import seccomp, zygote
from .isolation import Isolation, hidden_scratch_roots
from .limits import sandbox_environment
from .workspace import copy_snapshot, remove_tree

log = logging.getLogger(__name__)

WARM_VAR = "ORPS_WARM_WORKER"  # "0" turns the warm worker off (every run cold)
_START_SECONDS = 60.0  # interpreter, pytest, plugins and the tests' libraries
_REPLY_SECONDS = 10.0  # a message from a worker that is not running tests


class WarmUnavailable(Exception):
    """The worker could not start or stopped answering: the run goes cold."""


def enabled(isolation: Isolation, requested: bool) -> bool:
    return requested and isolation.layer == "bwrap" and os.environ.get(WARM_VAR, "1").strip() != "0"


def describe_runs(warm: bool) -> str:
    """How runs start, for the isolation line of debug info."""
    if warm:
        return "; runs forked from a warm pytest worker, one bubblewrap sandbox per search (ORPS_WARM_WORKER=0: cold)"
    return "; each run a fresh interpreter"


@dataclass
class Slot:
    """The fixed run directory every warm run uses."""

    root: Path

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value >= 0 else None


class WarmChild:
    """The forked pytest process of one run, as the executor's wait loop sees it."""

    def __init__(self, worker: WarmWorker, pid: int) -> None:
        self.worker = worker
        self.pid = pid  # in this process's pid namespace
        self.exit_code: int | None = None
        self.peak_rss_kb: int | None = None
        self.cpu_seconds: float | None = None  # the worker's wait4 of the run's process
        self.wall_seconds: float | None = None

    def poll(self) -> bool:
        if self.exit_code is None:
            self._receive(timeout=0.0)
        return self.exit_code is not None

    def reap(self) -> None:
        """Wait for the worker's word that the child died (it was killed, or exited)."""
        if self.exit_code is None:
            self._receive(timeout=_REPLY_SECONDS)

    def _receive(self, timeout: float) -> None:
        try:
            message = self.worker.receive(timeout)
        except TimeoutError:
            if timeout:
                self._lost()
            return
        except (EOFError, OSError, ValueError):
            self._lost()
            return
        if message.get("event") == "exit":
            self.exit_code = int(message["status"])
            self.peak_rss_kb = message.get("maxrss_kb")
            self.cpu_seconds, self.wall_seconds = _seconds(message.get("cpu_s")), _seconds(message.get("wall_s"))

    def _lost(self) -> None:
        self.worker.stop()  # the worker died or hangs: the run is over, so is the worker
        self.exit_code = -9


class WarmWorker:
    def __init__(
        self,
        isolation: Isolation,
        private: Path,
        snapshot: Path,
        protected: list[Path],
        module: Path,
        read_only: list[Path],
        python_path: list[str],
        scratch_bytes: int,
    ) -> None:
        self.isolation = isolation
        self.slot = Slot(private / "slot")
        self._log_path = private / "warm-worker.log"
        self._snapshot = snapshot
        self._protected = protected  # relative to the project: the tests
        self._module = module  # relative: the module candidates replace (its imports are loaded ahead too)
        self._read_only = read_only
        self._python_path = python_path
        self._scratch_bytes = scratch_bytes
        self._popen: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._worker_pid: int | None = None  # the zygote itself (bubblewrap's child)
        self._inodes: dict[Path, int | None] = {}  # None: the file was missing then
        self._threads = 1  # the worker's, once it is ready
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes], socket.socket], WarmWorker] | None = None

    # -- life -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        if self._popen is None or self._popen.poll() is not None or self._worker_pid is None:
            return False
        try:  # bubblewrap outlives its child for a moment
            return psutil.Process(self._worker_pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def pids(self) -> set[int]:
        """The worker's own processes (bubblewrap and the zygote): never a run's."""
        return {pid for pid in (self._popen.pid if self._popen else None, self._worker_pid) if pid}

    def start(self) -> None:
        """A fresh worker and slot. Forking is safe only from a single-threaded
        process: when a library the tests import starts threads as it loads
        (some BLAS builds do), the worker starts again without them, and when
        even that has threads, runs start cold."""
        self._start(preload=third_party_imports(self._snapshot, [*self._protected, self._module]))
        if self._threads > 1:
            self._start(preload=[])
        if self._threads > 1:
            self.stop()
            raise WarmUnavailable(f"the warm worker has {self._threads} threads after loading pytest: forking is not safe")

    def _start(self, preload: list[str]) -> None:
        self.stop()
        remove_tree(self.slot.root)
        self.slot.root.mkdir()
        copy_snapshot(self._snapshot, self.slot.project)
        self.slot.home.mkdir()
        self.slot.tmp.mkdir()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        filters = contextlib.ExitStack()  # the seccomp program's descriptor, closed once bubblewrap has it
        filter_fd = filters.enter_context(seccomp.descriptor())
        command = self.isolation.wrap(
            [sys.executable, "-m", zygote.__name__],
            run_dir=self.slot.root,
            cwd=self.slot.project,
            read_only=self._read_only,
            protected=[self.slot.project / path for path in self._protected],
            scratch={self.slot.home: self._scratch_bytes, self.slot.tmp: self._scratch_bytes},
            as_pid_1=True,
            seccomp_fd=filter_fd,
        )
        env = sandbox_environment(
            self.slot.home,
            self.slot.tmp,
            "warm-worker",
            {
                "PYTHONPATH": os.pathsep.join(self._python_path),
                zygote.SOCKET_VAR: str(theirs.fileno()),
                zygote.PRELOAD_VAR: json.dumps(preload),
            },
        )
        try:
            with open(self._log_path, "ab") as log_file:
                self._popen = subprocess.Popen(
                    command,
                    cwd=self.slot.root.parent,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=(theirs.fileno(), *(() if filter_fd is None else (filter_fd,))),
                )
        except OSError as error:
            ours.close()
            raise WarmUnavailable(f"could not start the warm worker: {error}") from error
        finally:
            theirs.close()
            filters.close()
        self._sock = ours
        self._finalizer = weakref.finalize(self, _kill, self._popen, ours)
        try:
            ready = self.receive(_START_SECONDS)
        except (TimeoutError, EOFError, OSError, ValueError) as error:
            self.stop()
            raise WarmUnavailable(f"the warm worker did not start: {error or type(error).__name__}") from error
        if ready.get("event") != "ready":
            self.stop()
            raise WarmUnavailable(f"the warm worker said {ready!r}")
        children = psutil.Process(self._popen.pid).children()
        self._worker_pid = children[0].pid if children else None
        self._threads = int(ready.get("threads", 1))
        self._inodes = {path: self._inode(path) for path in self._protected}

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._popen = self._sock = self._finalizer = None
        self._worker_pid = None

    # -- one run --------------------------------------------------------------

    def refresh(self) -> bool:
        """Make the slot's project a fresh copy of the snapshot; False if its
        tests are no longer the files the sandbox protects (start a new worker)."""
        project = self.slot.project
        keep_files = {project / path for path in self._protected}
        keep_dirs = {parent for path in keep_files for parent in path.parents if parent.is_relative_to(project)}
        if any(self._inode(path) != inode for path, inode in self._inodes.items()):
            return False
        # The slot's root is the run's directory: what a run wrote there (beside its project)
        # goes too, or it would fill every later run's disk budget.
        for entry in os.scandir(self.slot.root):
            if Path(entry.path) not in (project, self.slot.home, self.slot.tmp):
                remove_tree(Path(entry.path))
        _remove_all_but(project, keep_files, keep_dirs)
        protected = {str(path) for path in self._protected}
        shutil.copytree(
            self._snapshot,
            project,
            symlinks=True,
            dirs_exist_ok=True,
            ignore=lambda directory, names: {
                name for name in names if os.path.relpath(os.path.join(directory, name), self._snapshot) in protected
            },
        )
        return all(self._inode(path) == inode for path, inode in self._inodes.items())

    def launch(self, request: dict[str, Any], fds: Iterable[int], join_cgroup: str | None) -> WarmChild:
        """Fork the run's child, put it in the run's cgroup, let it go."""
        try:
            if self._sock is None:
                raise EOFError("the worker is stopped")
            zygote.send(self._sock, {"op": "run", **request}, list(fds))
            forked = self.receive(_REPLY_SECONDS)
            outer_pid = self._child_pid() if forked.get("event") == "forked" else None
            if outer_pid is None:
                raise ValueError(f"no child to run: the worker said {forked!r}")
            if join_cgroup is not None:
                try:
                    Path(join_cgroup).write_text(str(outer_pid))
                except OSError:
                    pass  # no bound then, like a cold run whose join failed
            zygote.send(self._sock, {"op": "go"})
        except (OSError, EOFError, ValueError) as error:  # nothing of the run has started
            self.stop()
            raise WarmUnavailable(f"the warm worker stopped answering: {error!r}") from error
        return WarmChild(self, outer_pid)

    def reset(self, scratch: list[str]) -> None:
        """After a run: every process of it gone, scratch emptied (or the worker stopped)."""
        if self._sock is None:
            return
        try:
            zygote.send(self._sock, {"op": "reset", "scratch": scratch})
            if self.receive(_REPLY_SECONDS).get("event") != "clean":
                self.stop()
        except (TimeoutError, EOFError, OSError, ValueError):
            self.stop()

    def scratch_dirs(self) -> list[str]:
        """What the worker empties after each run: where a run may write besides the slot's project."""
        return [*hidden_scratch_roots(), "/dev/shm", str(self.slot.home), str(self.slot.tmp)]

    def receive(self, timeout: float) -> dict[str, Any]:
        if self._sock is None:
            raise EOFError
        self._sock.settimeout(timeout if timeout > 0 else 0.0)
        try:
            message, _ = zygote.receive(self._sock)
        except BlockingIOError as error:
            raise TimeoutError from error
        return message

    def _child_pid(self) -> int | None:
        """The forked child's pid as this process sees it: the zygote's only child after a reset."""
        if self._worker_pid is None:
            return None
        deadline = time.monotonic() + _REPLY_SECONDS
        while time.monotonic() < deadline:
            try:
                children = psutil.Process(self._worker_pid).children()
            except psutil.Error:
                return None
            if children:
                return children[0].pid
            time.sleep(0.001)
        return None

    def _inode(self, relative: Path) -> int | None:
        try:
            return (self.slot.project / relative).lstat().st_ino
        except OSError:
            return None


def third_party_imports(snapshot: Path, sources: Iterable[Path]) -> list[str]:
    """Top-level modules these files import that do not belong to the project (worth importing ahead)."""
    names: list[str] = []
    for relative in sources:
        try:
            tree = ast.parse((snapshot / relative).read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module.split(".")[0]]
            else:
                continue
            for name in found:
                local = [snapshot / f"{name}.py", snapshot / name, snapshot / "src" / f"{name}.py", snapshot / "src" / name]
                if name not in names and not any(path.exists() for path in local):
                    names.append(name)
    return names


def _remove_all_but(root: Path, keep_files: set[Path], keep_dirs: set[Path]) -> None:
    for entry in os.scandir(root):
        path = Path(entry.path)
        if path in keep_files and entry.is_file(follow_symlinks=False):
            continue
        if path in keep_dirs and entry.is_dir(follow_symlinks=False):
            _remove_all_but(path, keep_files, keep_dirs)
            continue
        if entry.is_dir(follow_symlinks=False):
            remove_tree(path)
        else:
            try:
                path.unlink()
            except OSError:
                pass


def _kill(popen: subprocess.Popen[bytes], sock: socket.socket) -> None:
    """Close the worker: its socket first (it exits, and its namespace with it), then make sure."""
    try:
        sock.close()
    except OSError:
        pass
    try:
        popen.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()
