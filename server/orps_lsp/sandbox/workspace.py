"""Copies of the user's project that candidates may trash freely."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import psutil

from ..files import SKIPPED_DIRS
from .untrusted import Untrusted, remove

_PRIVATE_PREFIX = "orps-sandbox-"
_OWNED = re.compile(rf"{_PRIVATE_PREFIX}(\d+)-")


def _ignore(directory: str, names: list[str]) -> set[str]:
    skipped = set()
    for name in names:
        if name in SKIPPED_DIRS or name.endswith((".pyc", ".pyo")):
            skipped.add(name)
        elif os.path.isfile(os.path.join(directory, name, "pyvenv.cfg")):
            skipped.add(name)  # a virtual environment under another name
    return skipped


def copy_project(source: Path, destination: Path) -> None:
    """Snapshot the user's project; nothing in the copy leads back into it.

    Hard links are never used (a write through one would change the user's
    file), and symbolic links are contained: see `_contain_symlinks`.
    """
    shutil.copytree(source, destination, symlinks=True, ignore=_ignore)
    _contain_symlinks(destination, source)


def copy_snapshot(snapshot: Path, destination: Path) -> None:
    """Copy a snapshot made by `copy_project` (its links are relative and internal)."""
    shutil.copytree(snapshot, destination, symlinks=True)


def _contain_symlinks(copy_root: Path, original_root: Path) -> None:
    """Make every link in the copy point inside the copy.

    A link to something inside the project becomes a relative link to the
    copy's counterpart; a link to a file outside becomes a copy of that file;
    a link to a directory outside, or a dangling one, is dropped.
    """
    original_root = original_root.resolve()
    for directory, dirnames, filenames in os.walk(copy_root):
        for name in dirnames + filenames:
            link = Path(directory, name)
            if not link.is_symlink():
                continue
            original = original_root / link.relative_to(copy_root)
            target = original.resolve()
            link.unlink()
            if target.is_relative_to(original_root):
                counterpart = copy_root / target.relative_to(original_root)
                link.symlink_to(os.path.relpath(counterpart, link.parent))
            elif target.is_file():
                shutil.copy2(target, link)


def private_directory() -> Path:
    """A new directory for one executor's snapshot, runs and channels, named after this
    process. An executor removes its own when it closes or is collected; one whose server
    was killed (SIGKILL, a crash) cannot, so those of processes that are gone are removed
    here, the next time an executor starts."""
    root = Path(tempfile.gettempdir())
    for entry in root.glob(f"{_PRIVATE_PREFIX}*"):
        owner = _OWNED.match(entry.name)
        try:
            mine = entry.lstat().st_uid == os.getuid() and entry.is_dir() and not entry.is_symlink()
        except OSError:
            continue
        if owner and mine and not psutil.pid_exists(int(owner.group(1))):
            try:
                remove_tree(entry)
            except (OSError, Untrusted):
                pass  # another server's sweep got there first, or it is past the bounds: left
    return Path(tempfile.mkdtemp(prefix=f"{_PRIVATE_PREFIX}{os.getpid()}-")).resolve()


def remove_tree(path: Path) -> None:
    """Remove `path`, however deep, even where a candidate took write permission away."""
    remove(path)
