"""Files: one atomic write, one list of folders that hold no project code."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

# Folders that are tools' or environments' own, never the project's code or tests: left out of
# test discovery and of the sandbox's copy of the project.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".pytest_cache",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".orps-cache",
        "build",
        "dist",
    }
)
# Test discovery also leaves out installed packages' folders (their tests are not the project's);
# the sandbox copies them (a project may import a vendored one).
NOT_SEARCHED_FOR_TESTS = SKIPPED_DIRS | {"site-packages"}


@contextmanager
def atomic_file(path: Path, *, binary: bool = False, permissions: int | None = None) -> Iterator[IO[Any]]:
    """A handle on a temporary file beside `path`, renamed onto it when the block ends without
    an error (removed otherwise): `path` is never half-written. Its mode: `permissions`, else
    the replaced file's, else 0o644 (mkstemp alone would make it private)."""
    if permissions is None:
        permissions = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_file(path: Path, text: str) -> None:
    """`path` holds `text` after one rename (made if missing; its mode kept)."""
    with atomic_file(path) as handle:
        handle.write(text)
