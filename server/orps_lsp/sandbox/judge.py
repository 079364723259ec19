"""The files that judge a candidate, and whether a run left them alone.

Tests, conftest files and pytest's configuration decide whether a candidate
passes; a candidate that rewrites them, or drops a .pyc that pytest would load
in place of a test module, would pass without earning it. Their digests are
taken once from the snapshot; each run's copy is compared with them before
the run (a poisoned snapshot) and after it (content, and inode and ctime: a
file changed and put back). Under bubblewrap they are mounted read-only too.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from .untrusted import Untrusted, read_regular, walk

_CONFIG_NAMES = frozenset(
    {"conftest.py", "pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "sitecustomize.py", "usercustomize.py"}
)
Stamps = dict[str, tuple[int, int]]  # relative path -> (inode, ctime_ns)


def is_judge(name: str) -> bool:
    return (
        name in _CONFIG_NAMES
        or (name.startswith("test_") and name.endswith(".py"))
        or name.endswith(("_test.py", ".pyc", ".pth"))
    )


class JudgeFiles:
    def __init__(self, snapshot: Path, selected: Iterable[Path], candidate: Path) -> None:
        """`selected`: the chosen test files (relative), judges whatever their names;
        `candidate`: the module the candidate replaces (relative), never a judge."""
        self._selected = {str(p) for p in selected} - {str(candidate)}
        self._candidate = str(candidate)
        self._digests = self._digest(snapshot)

    @property
    def paths(self) -> list[str]:
        """The judge files, relative to the project."""
        return sorted(self._digests)

    def stamps(self, copy: Path) -> Stamps:
        stamps = {}
        for relative in self._digests:
            try:
                info = os.stat(copy / relative, follow_symlinks=False)
            except OSError:
                continue
            stamps[relative] = (info.st_ino, info.st_ctime_ns)
        return stamps

    def changes(self, copy: Path, before: Stamps | None = None) -> list[str]:
        """What differs in `copy`, one "path (how)" each; empty when nothing does."""
        now = self._digest(copy)
        found = []
        for relative in sorted(self._digests.keys() | now.keys()):
            if relative not in now:
                found.append(f"{relative} (removed)")
            elif relative not in self._digests:
                found.append(f"{relative} (added)")
            elif now[relative] != self._digests[relative]:
                found.append(f"{relative} (modified)")
        if before is not None:
            after = self.stamps(copy)
            found += [
                f"{r} (rewritten)"
                for r in sorted(before)
                if r in after and after[r] != before[r] and not any(f.startswith(f"{r} (") for f in found)
            ]
        return found

    def _digest(self, root: Path) -> dict[str, str]:
        """Raises `Untrusted` for a tree it will not walk (too deep, too many entries)."""
        digests = {}
        for directory, _, filenames in walk(root):
            for name in filenames:
                relative = os.path.relpath(os.path.join(directory, name), root)
                if relative == self._candidate or not (is_judge(name) or relative in self._selected):
                    continue
                digests[relative] = _file_digest(Path(directory, name))
        return digests


def _file_digest(path: Path) -> str:
    """A judge file's content; never opens a FIFO, socket or device (a FIFO named like a
    test file once hung the judge) and never follows a link."""
    if path.is_symlink():
        return "link:" + os.readlink(path)
    try:
        return hashlib.sha256(read_regular(path)).hexdigest()
    except Untrusted as why:
        return f"unreadable: {why}"
    except OSError as error:
        return f"unreadable: {error.strerror}"
