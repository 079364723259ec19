"""Waiting for a started run to end: the wait loop that enforces the run's limits while it goes
on (time, a hung test, a session that ends but does not exit, processes, disk, the user's
cancel), the reaping of the cold child, and what the run leaves to read afterwards (the tail of
its output, its own peak memory).

Starting a run is launch.py's job; what its records mean is reporting.py's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Protocol

import psutil

from ..cancel import Cancelled, CancelToken
from .limits import ProcessTree, disk_bytes
from .protocol import HARD_TIMEOUT_GRACE
from .results import RecordReader
from .verdict import STOP_DISK, STOP_EXIT_HANG, STOP_PROCESSES, STOP_TEST_TIMEOUT, STOP_TIMEOUT

_POLL_SECONDS = 0.05
_REFRESH_SECONDS = 0.2  # how often the process tree is re-read while a run goes on
_DISK_SECONDS = 0.25  # how often the run's disk use is measured
_HANG_SLACK = 2.0  # the executor's own per-test backstop comes after the plugin's two stages
EXIT_GRACE = 2.0  # seconds from the session's end to the process's exit, before it counts as a hang
_TAIL_LINES = 40
_DUMP_LINES = 16


class RunningChild(Protocol):
    """The run's pytest process as the wait loop sees it: a cold child (ColdChild) or one the
    warm worker forked (warm.WarmChild). Its figures are known once it is reaped."""

    exit_code: int | None
    peak_rss_kb: int | None
    cpu_seconds: float | None
    wall_seconds: float | None

    def poll(self) -> bool: ...

    def reap(self) -> None: ...


class ColdChild:
    """The pytest process, reaped with wait4 to read its peak RSS and CPU time."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.exit_code: int | None = None
        self.peak_rss_kb: int | None = None
        self.cpu_seconds: float | None = None
        self.wall_seconds: float | None = None  # from the start to the reaping (to the wait loop's poll)
        self._started = time.monotonic()

    def poll(self) -> bool:
        if self.exit_code is None:
            self._wait(os.WNOHANG)
        return self.exit_code is not None

    def reap(self) -> None:
        if self.exit_code is None:
            self._wait(0)

    def _wait(self, options: int) -> None:
        try:
            pid, status, usage = os.wait4(self.popen.pid, options)
        except ChildProcessError:  # reaped elsewhere: the status is lost
            self.exit_code = self.popen.returncode = -signal.SIGKILL
            return
        if pid:
            self.exit_code = self.popen.returncode = os.waitstatus_to_exitcode(status)
            self.peak_rss_kb = usage.ru_maxrss  # kilobytes on Linux
            self.cpu_seconds = usage.ru_utime + usage.ru_stime
            self.wall_seconds = time.monotonic() - self._started


def wait(
    child: RunningChild,
    tree: ProcessTree,
    reader: RecordReader,
    cancel: CancelToken,
    *,
    total: float,
    per_test: float,
    exit_grace: float,
    max_processes: int,
    disk_budget: int,
    run_dir: Path,
    output_path: Path,
) -> tuple[str, str | None]:
    """Poll until the child exits, the run or a test times out, the session
    ended but the process does not exit, the run exceeds its disk or process
    budget, or the user cancels. Returns (why it was stopped or "", the test
    running then)."""
    deadline = time.monotonic() + total
    hang_limit = per_test + HARD_TIMEOUT_GRACE + _HANG_SLACK
    next_refresh = next_disk = 0.0
    finished_at: float | None = None
    while not child.poll():
        if cancel.cancelled:
            raise Cancelled()
        now = time.monotonic()
        records = reader.poll()
        running = records.running_test
        current = running[0] if running else None
        if now >= deadline:
            return STOP_TIMEOUT, current
        if running and now - running[1] > hang_limit:
            return STOP_TEST_TIMEOUT, current
        if records.exitstatus is not None:
            finished_at = finished_at or now
            if now - finished_at > exit_grace:
                return STOP_EXIT_HANG, None
        if now >= next_refresh:
            tree.refresh()
            # Backstop for root without a pids cgroup, where RLIMIT_NPROC does not hold.
            if len(tree.alive()) > max_processes:
                return STOP_PROCESSES, current
            next_refresh = now + _REFRESH_SECONDS
        if now >= next_disk:
            if disk_bytes(run_dir, tree.alive()) + _size(output_path) > disk_budget:
                return STOP_DISK, current
            next_disk = now + _DISK_SECONDS
        cancel.wait(_POLL_SECONDS)
    # Once more at the end: a run that filled its budget between two looks still exceeded it.
    if disk_bytes(run_dir, tree.alive()) + _size(output_path) > disk_budget:
        return STOP_DISK, None
    return "", None


def own_peak(ru_maxrss_kb: int | None) -> int | None:
    """ru_maxrss of a child that died before the plugin reported its own peak.

    After fork+exec Linux keeps the parent's high-water mark in ru_maxrss, so
    the figure says something about the child only when it is well above what
    this (parent) process holds; otherwise it is unknown.
    """
    if ru_maxrss_kb is None:
        return None
    parent_kb = psutil.Process().memory_info().rss // 1024
    return ru_maxrss_kb if ru_maxrss_kb > 1.1 * parent_kb else None


def tail(output_path: Path, limit_kb: int, extra_text: str) -> str:
    """The last lines of the child's output (read from at most `limit_kb` at its end)."""
    try:
        with open(output_path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(max(0, stream.tell() - limit_kb * 1024))
            text = stream.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    # A faulthandler dump lists the innermost frames first: those are worth keeping.
    dump = "\n".join(extra_text.splitlines()[:_DUMP_LINES])
    lines = (text.rstrip() + "\n" + dump).strip().splitlines()
    return "\n".join(lines[-_TAIL_LINES:])


def _size(path: Path) -> int:
    """The disk the output log takes (blocks, not length: a sparse file counts for what it holds)."""
    try:
        return path.stat().st_blocks * 512
    except OSError:
        return 0
