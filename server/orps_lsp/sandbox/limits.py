"""Resource limits, a clean environment and a thorough kill for sandboxed processes.

Candidate code runs as the user (often root in containers), so these alone are
not a security boundary (isolation.py adds one where the machine allows): they
keep a buggy or runaway candidate from eating the machine, leaking secrets into
prompts, or leaving processes behind.
"""

from __future__ import annotations

import os
import resource
import signal
import stat
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil

from ..executor import SandboxLimits
from .pids import PidsCgroup
from .protocol import MARKER_VAR
from .untrusted import tree_bytes

_MB = 1024 * 1024
OPEN_FILES = 1024  # the plugin parks its result fd just below this
_KEPT_VARS = {"PATH", "LANG", "LANGUAGE", "TZ", "TERM"}


def _limit(resource_id: int, soft: int, hard: int | None = None) -> tuple[int, int]:
    """(soft, hard) kept under the current hard limit: raising it would fail."""
    hard = soft if hard is None else hard
    _, current_hard = resource.getrlimit(resource_id)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    return soft, hard


def _tasks_of_this_user() -> int:
    """Threads of this uid: RLIMIT_NPROC counts them all, not just the sandbox's."""
    uid = os.getuid()
    total = 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        uids, threads = proc.info["uids"], proc.info["num_threads"]
        if uids is not None and uids.real == uid:
            total += threads or 1
    return total


def rlimit_settings(limits: SandboxLimits, *, limit_memory: bool = True) -> list[tuple[int, tuple[int, int]]]:
    """(resource, (soft, hard)) for every rlimit a run gets.

    `limit_memory=False` is for valgrind, which reserves far more address
    space than the program it runs.
    """
    settings: list[tuple[int, tuple[int, int]]] = [
        # SIGXCPU at the soft limit (reported as such), SIGKILL two seconds later.
        (resource.RLIMIT_CPU, _limit(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 2)),
        (resource.RLIMIT_FSIZE, _limit(resource.RLIMIT_FSIZE, limits.file_size_mb * _MB)),
        (resource.RLIMIT_NOFILE, _limit(resource.RLIMIT_NOFILE, OPEN_FILES)),
        # Relative to what the user already runs, else a desktop session with
        # hundreds of threads could not start a single subprocess.
        (resource.RLIMIT_NPROC, _limit(resource.RLIMIT_NPROC, _tasks_of_this_user() + limits.max_processes)),
    ]
    if limit_memory:
        settings.append((resource.RLIMIT_AS, _limit(resource.RLIMIT_AS, limits.memory_mb * _MB)))
    return settings


def apply_rlimits(settings: Iterable[tuple[int, tuple[int, int]]]) -> None:
    for resource_id, values in settings:
        try:
            soft, hard = values  # a pair, also when it came through JSON as a list (the warm worker's)
            resource.setrlimit(resource_id, (soft, hard))
        except (ValueError, OSError):
            pass  # an unsupported limit must not stop the run


_PR_SET_PDEATHSIG = 1


def _prctl() -> Any:
    """libc's prctl, loaded here in the parent (not between fork and exec), or None."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def limits_preexec(limits: SandboxLimits, *, limit_memory: bool = True, cgroup_procs: str | None = None) -> Callable[[], None]:
    """A `preexec_fn` that starts a new session, joins the run's pids cgroup
    (`cgroup_procs`: its cgroup.procs file) and applies `limits`.

    Values are computed here, in the parent: the function runs between fork and
    exec, where as little as possible should happen.
    """
    settings = rlimit_settings(limits, limit_memory=limit_memory)
    prctl, parent = _prctl(), os.getpid()

    def apply() -> None:
        os.setsid()  # own session and process group: one killpg reaches all that stay in it
        if prctl is not None:
            # Killed if the server dies (SIGKILL, a crash) before it could kill the run; and if it
            # died already, between the fork and here, the run ends now.
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(1)
        if cgroup_procs is not None:
            try:  # "0": the writing process; all it starts are counted from here on
                fd = os.open(cgroup_procs, os.O_WRONLY)
                try:
                    os.write(fd, b"0")
                finally:
                    os.close(fd)
            except OSError:
                pass  # no bound then, like a machine without cgroups
        apply_rlimits(settings)

    return apply


def sandbox_environment(home: Path, tmp: Path, marker: str, extra: dict[str, str]) -> dict[str, str]:
    """The child's environment: no tokens, keys or proxies; private HOME and TMPDIR."""
    env = {k: v for k, v in os.environ.items() if k in _KEPT_VARS or k.startswith("LC_")}
    env.setdefault("PATH", os.defpath)
    env.update(
        {
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "TMP": str(tmp),
            "TEMP": str(tmp),
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
            MARKER_VAR: marker,
        }
    )
    env.update(extra)
    return env


class ProcessTree:
    """Every process a sandboxed run started, so that all of them can be killed.

    Members: the root's descendants seen while it ran (`refresh`), anything in
    the root's session or process group or in its pids cgroup, and, in a final
    sweep, any process started since the run began that carries the run's
    marker variable or whose working directory is inside the sandbox.
    """

    def __init__(
        self, root_pid: int, marker: str, sandbox_dir: Path, cgroup: PidsCgroup | None = None, spare: Iterable[int] = ()
    ) -> None:
        self.root_pid = root_pid
        self.spare = set(spare)  # never members: the warm worker that forked the root
        self.marker = marker
        self.sandbox_dir = str(sandbox_dir)
        self.cgroup = cgroup
        self.started_at = time.time() - 1.0  # create_time granularity
        self.seen: dict[int, psutil.Process] = {}
        self._me = os.getpid()

    def refresh(self) -> None:
        """Remember the root's current descendants (called while the root runs)."""
        try:
            children = psutil.Process(self.root_pid).children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            self.seen.setdefault(child.pid, child)
        for pid in self.cgroup.pids() if self.cgroup else ():
            if pid not in self.seen and pid != self.root_pid:
                try:
                    self.seen[pid] = psutil.Process(pid)
                except psutil.Error:
                    pass

    def alive(self) -> list[psutil.Process]:
        """The members seen so far that still run (the root excluded)."""
        return [p for p in self.seen.values() if p.pid != self.root_pid and _alive(p)]

    def kill_all(self) -> None:
        """SIGSTOP every member until no new one appears, then SIGKILL them all.

        Freezing first stops a fork loop from outrunning the kill. The root is
        signalled but never waited for here: the executor reaps it with wait4
        to read its resource usage.
        """
        for _ in range(3):
            frozen: dict[int, psutil.Process] = {}
            for _ in range(50):
                fresh = [p for p in self._members() if p.pid not in frozen]
                if not fresh:
                    break
                for proc in fresh:
                    _signal(proc, signal.SIGSTOP)
                    frozen[proc.pid] = proc
            self._kill_group()
            for proc in frozen.values():
                _signal(proc, signal.SIGKILL)
            _wait_until_dead([p for p in frozen.values() if p.pid != self.root_pid], timeout=1.0)
            if not any(p.pid != self.root_pid for p in self._members()):
                return

    def _kill_group(self) -> None:
        try:
            os.killpg(self.root_pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _members(self) -> list[psutil.Process]:
        members = {pid: p for pid, p in self.seen.items() if _alive(p)}
        self.refresh()
        members.update({pid: p for pid, p in self.seen.items() if _alive(p)})
        for proc in self._recent_processes():
            if proc.pid not in members and self._belongs(proc):
                members[proc.pid] = proc
        for pid in (self._me, *self.spare):
            members.pop(pid, None)
        return list(members.values())

    def _recent_processes(self) -> Iterable[psutil.Process]:
        for proc in psutil.process_iter(["create_time"]):
            created = proc.info["create_time"]
            if created is not None and created >= self.started_at and _alive(proc):
                yield proc

    def _belongs(self, proc: psutil.Process) -> bool:
        try:
            if os.getsid(proc.pid) == self.root_pid or os.getpgid(proc.pid) == self.root_pid:
                return True
        except OSError:
            return False
        try:
            if proc.environ().get(MARKER_VAR) == self.marker:
                return True
            cwd = proc.cwd()
            return cwd == self.sandbox_dir or cwd.startswith(self.sandbox_dir + os.sep)
        except psutil.Error:
            return False


def disk_bytes(directory: Path, processes: Iterable[psutil.Process]) -> int:
    """Bytes a run holds on disk: its directory, plus files its processes keep
    open after deleting them (which no directory walk sees)."""
    total = tree_bytes(directory)  # directories and links count too: each costs an inode
    unlinked: dict[tuple[int, int], int] = {}  # one file open in many places counts once
    for proc in processes:
        try:
            fds = os.listdir(f"/proc/{proc.pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                info = os.stat(f"/proc/{proc.pid}/fd/{fd}")
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 0:
                unlinked[(info.st_dev, info.st_ino)] = info.st_blocks * 512
    return total + sum(unlinked.values())


def _wait_until_dead(processes: list[psutil.Process], timeout: float) -> None:
    """Wait for SIGKILLed processes to die; a zombie counts as dead (its parent reaps it)."""
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.01)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal(proc: psutil.Process, signum: int) -> None:
    try:
        proc.send_signal(signum)
    except psutil.Error:
        pass
