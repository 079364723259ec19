"""orps-lsp in a real editor: headless Neovim (Debian package `neovim`, 0.7+) runs
orps.optimize with the scripted model and applies the edit with its own handler."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_fixtures.harness import FAST_HAS_DUPLICATES, copy_example, line_of, server_environment, write_answers

SCRIPT = Path(__file__).parent / "nvim" / "optimize.lua"

pytestmark = pytest.mark.skipif(shutil.which("nvim") is None, reason="needs Neovim (apt-get install neovim)")


def test_neovim_applies_the_optimized_function(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    module = project / "slowmath.py"
    out = tmp_path / "buffer.py"
    env = server_environment(write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES]))
    env.update(
        ORPS_FILE=str(module),
        ORPS_LINE=str(line_of(module.read_text(), "for i in range")),
        ORPS_OUT=str(out),
        ORPS_PYTHON=sys.executable,
        ORPS_TIMEOUT_MS="120000",
    )
    run = subprocess.run(
        ["nvim", "--headless", "--clean", "-u", "NONE", "-c", f"luafile {SCRIPT}"],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )

    answer = json.loads(Path(f"{out}.json").read_text())
    assert run.returncode == 0, (run.stderr, answer)
    assert answer["result"]["status"] == "applied", answer
    text = out.read_text()
    assert "return len(set(items)) != len(items)" in text and "for j in range" not in text
    assert "def fib(n):" in text and "raise NotImplementedError" in text
    assert module.read_text() != text  # the edit went to the buffer, not the disk
    module.write_text(text)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_duplicates.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert tests.returncode == 0, tests.stdout
