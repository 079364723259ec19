"""A pids cgroup per run: a bound on the number of processes that holds for root.

RLIMIT_NPROC does not apply to root, so as root a fork bomb would run until the
executor's kill, taking the machine's process table with it. A cgroup's
pids.max holds for everyone; creating one needs write access to the pids
hierarchy, which root usually has and an ordinary user usually lacks (and then
needs none: RLIMIT_NPROC works). Both cgroup v1 (a `pids` hierarchy) and v2
(where our own cgroup hands the pids controller down) are handled.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from pathlib import Path

_PREFIX = "orps-"
_numbers = itertools.count()


class PidsCgroup:
    """One run's cgroup. The child joins it in its pre-exec hook (`procs_path`),
    so that everything it starts is counted, and it is removed after the kill."""

    def __init__(self, path: Path, max_pids: int) -> None:
        self.path = path
        self.max_pids = max_pids
        self.procs_path = str(path / "cgroup.procs")

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        parent = _parent()
        if parent is None:
            return None
        path = parent / f"{_PREFIX}{os.getpid()}-{next(_numbers)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            _remove(path)
            return None
        return cls(path, max_pids)

    def pids(self) -> list[int]:
        try:
            return [int(line) for line in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def limit_hit(self) -> bool:
        """Whether a fork or clone failed at pids.max ("max N" in pids.events)."""
        try:
            for line in (self.path / "pids.events").read_text().splitlines():
                name, _, count = line.partition(" ")
                if name == "max":
                    return int(count) > 0
        except (OSError, ValueError):
            pass
        return False

    def cpu_seconds(self) -> float | None:
        """CPU time of every process that was in the cgroup (cgroup v2's cpu.stat), or None."""
        try:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == "usage_usec":
                    return int(value) / 1e6
        except (OSError, ValueError):
            pass
        return None

    def remove(self) -> None:
        # Killed processes leave the cgroup once they are fully gone: wait a little.
        deadline = time.monotonic() + 1.0
        while not _remove(self.path) and time.monotonic() < deadline:
            time.sleep(0.01)


def available() -> bool:
    return _parent() is not None


def describe() -> str:
    return "pids cgroup (pids.max per run)"


@functools.cache
def _parent() -> Path | None:
    """Where this process may create pids cgroups, or None (probed once)."""
    for candidate in _candidates():
        probe = candidate / f"{_PREFIX}probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            continue
        usable = (probe / "pids.max").exists() and os.access(probe / "cgroup.procs", os.W_OK)
        _remove(probe)
        if usable:
            _remove_stale(candidate)
            return candidate
    return None


def _candidates() -> list[Path]:
    """Our own cgroup in the v1 pids hierarchy and in the v2 hierarchy, where mounted."""
    try:
        membership = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    own: dict[str, str] = {}  # "pids" or "" (v2) -> path inside the hierarchy
    for line in membership:
        _, controllers, path = line.split(":", 2)
        if controllers == "" or "pids" in controllers.split(","):
            own["pids" if controllers else ""] = path
    found: list[Path] = []
    for line in mounts:
        fields = line.split()
        if " - " not in line:
            continue
        root, mount_point = fields[3], fields[4]
        fstype, _, options = line.split(" - ", 1)[1].split()[:3]
        key = "pids" if fstype == "cgroup" and "pids" in options.split(",") else "" if fstype == "cgroup2" else None
        if key is None or key not in own:
            continue
        inside = os.path.relpath(own[key], root) if own[key].startswith(root) else "."
        candidate = Path(mount_point) / inside
        found.append(candidate if candidate.is_dir() else Path(mount_point))
    return found


def _remove(path: Path) -> bool:
    try:
        path.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _remove_stale(parent: Path) -> None:
    """Cgroups of executor processes that died without removing theirs (empty ones only)."""
    for child in parent.glob(f"{_PREFIX}*"):
        owner = child.name[len(_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _remove(child)
