"""Reading, walking and removing what a candidate's run left: files and trees it controls.

A run's copy can hold anything a candidate makes: a FIFO named like a test file or like
the instruction counter's output (opening it to read blocks until someone writes), a
directory where a data file is expected, a tree deeper than Python's recursion limit,
tens of thousands of empty directories and symlinks. The rules here: never follow a
link, never open anything but a regular file (and never block on the open), walk and
remove iteratively with bounds. Whatever still goes wrong raises `Untrusted`, which
fails the candidate, never the search.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

MAX_DEPTH = 64  # directories deep: far past any project's layout
MAX_ENTRIES = 200_000  # entries walked in one tree
# What an entry that holds no data still costs on disk (or in tmpfs memory): an inode and
# a directory entry. Counted for directories, links and special files alike.
ENTRY_BYTES = 4096


class Untrusted(Exception):
    """What a run left cannot be inspected safely (its message says what and where)."""


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of `path` when it is a regular file (not a link, FIFO, socket, device or
    directory), read without ever blocking; `Untrusted` otherwise. FileNotFoundError
    passes through: a missing file is for the caller to judge."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise Untrusted(f"{path.name} cannot be opened: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Untrusted(f"{path.name} is not a regular file ({_kind(info.st_mode)})")
        chunks, left = [], info.st_size if limit is None else min(info.st_size, limit)
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def is_regular(path: Path) -> bool:
    """Whether `path` is a regular file itself (not through a link)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def walk(root: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk's (directory, subdirectories, other names), top-down, sorted, links not
    followed; iterative, so no depth raises RecursionError; `Untrusted` past MAX_DEPTH
    or MAX_ENTRIES."""
    stack, seen = [(str(root), 0)], 0
    while stack:
        directory, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Untrusted(f"a directory tree more than {MAX_DEPTH} levels deep")
        try:
            with os.scandir(directory) as entries:
                listed = list(entries)
        except OSError:
            continue
        seen += len(listed)
        if seen > MAX_ENTRIES:
            raise Untrusted(f"more than {MAX_ENTRIES} files and directories")
        subdirectories: list[str] = []
        others: list[str] = []
        for entry in listed:
            try:
                (subdirectories if entry.is_dir(follow_symlinks=False) else others).append(entry.name)
            except OSError:
                others.append(entry.name)
        subdirectories.sort()
        others.sort()
        yield directory, subdirectories, others
        stack.extend((os.path.join(directory, name), depth + 1) for name in reversed(subdirectories))


def tree_bytes(root: Path) -> int:
    """What a tree holds on disk: each regular file's blocks, and ENTRY_BYTES at least for
    every entry (an empty directory or a symlink costs an inode too). Iterative and
    unbounded in depth: a budget must count what a hostile tree holds, not give up on it."""
    total, stack = 0, [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        total += ENTRY_BYTES
                        continue
                    total += max(info.st_blocks * 512, ENTRY_BYTES)
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(entry.path)
        except OSError:
            continue
    return total


def remove(path: Path) -> None:
    """Remove a file or a whole tree, however deep, where a candidate took write
    permission away; iterative (shutil.rmtree recurses, and a deep tree raised
    RecursionError and left the copy behind). What cannot be removed is left for the
    private directory's own removal at close."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        _unlink(str(path))
        return
    stack = [str(path)]  # directories, each emptied before it is removed
    stuck: set[str] = set()  # directories that would not go: never pushed again
    while stack:
        directory = stack[-1]
        _make_writable(directory)
        pushed = False
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.path in stuck:
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                            pushed = True
                        else:
                            _unlink(entry.path)
                    except OSError:
                        continue
        except OSError:
            pass
        if not pushed:
            stack.pop()
            try:
                os.rmdir(directory)
            except OSError:
                stuck.add(directory)  # a file in it would not go: left for the close


def _make_writable(directory: str) -> None:
    try:
        if os.lstat(directory).st_mode & stat.S_IRWXU != stat.S_IRWXU:
            os.chmod(directory, stat.S_IRWXU)
    except OSError:
        pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except PermissionError:
        _make_writable(os.path.dirname(path))
        try:
            os.unlink(path)
        except OSError:
            pass
    except OSError:
        pass


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    ):
        if test(mode):
            return name
    return "not a file"
