"""Shared fixtures: the example project and fakes for the search core's interfaces."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "slowmath"


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A private copy of the example project (tests may modify it)."""
    target = tmp_path / "slowmath"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return target
