"""A user's environment, as the README tells users to make it: orps-lsp installed
(`pip install orps-lsp`, no test extras) beside the user's own projects.

The development venv (.venv) also holds the test extras (pytest-lsp brings
pytest-asyncio), which change how some projects' own suites behave; the product
must be judged where its users run it. This builds `.corpus/venv` once (pip's
cache keeps it quick) and installs the real projects of the corpus (corpus.py)
into it, editable or not, each from its published sdist.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO / ".corpus"
VENV = CORPUS_DIR / "venv"
PYTHON = VENV / "bin" / "python"
_STAMP = CORPUS_DIR / "installed.json"


def _pip(*args: str, timeout: float = 1200) -> None:
    result = subprocess.run(
        [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q", *args], capture_output=True, text=True, timeout=timeout
    )
    if result.returncode:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def _wanted(projects) -> dict:
    pyproject = (REPO / "pyproject.toml").read_bytes()
    return {
        "orps-lsp": hashlib.sha256(pyproject).hexdigest(),
        "projects": {p.name: [p.version, p.sha256, p.editable, p.extra_requirements] for p in projects},
    }


def ensure(projects) -> Path:
    """The venv's python, with orps-lsp and every project of the corpus installed."""
    wanted = _wanted(projects)
    try:
        if json.loads(_STAMP.read_text()) == wanted and PYTHON.exists():
            return PYTHON
    except (OSError, ValueError):
        pass
    CORPUS_DIR.mkdir(exist_ok=True)
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    _pip("install", "-e", str(REPO))  # as a user installs it: no test extras
    downloads = CORPUS_DIR / "sdists"
    for project in projects:
        sdist = _download(project, downloads)
        tree = CORPUS_DIR / "src" / f"{project.name}-{project.version}"
        if not tree.exists():
            _extract(sdist, tree)
        if project.extra_requirements:
            _pip("install", *project.extra_requirements)
        if project.editable:
            _pip("install", "--no-deps", "-e", str(tree))
        else:  # installed into site-packages, its source tree beside it: the copy that must not win
            _pip("install", "--no-deps", str(tree))
    _STAMP.write_text(json.dumps(wanted))
    return PYTHON


def project_tree(project) -> Path:
    return CORPUS_DIR / "src" / f"{project.name}-{project.version}"


def _download(project, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    existing = [p for p in folder.glob(f"*-{project.version}.tar.gz") if _normal(p.name).startswith(_normal(project.name))]
    if not existing:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--disable-pip-version-check",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{project.name}=={project.version}",
                "-d",
                str(folder),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        existing = [p for p in folder.glob(f"*-{project.version}.tar.gz") if _normal(p.name).startswith(_normal(project.name))]
    sdist = existing[0]
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != project.sha256:
        sdist.unlink()
        raise RuntimeError(f"{sdist.name}: sha256 {digest}, expected {project.sha256}")
    return sdist


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _extract(sdist: Path, tree: Path) -> None:
    staging = tree.with_name(tree.name + ".partial")
    with tarfile.open(sdist) as archive:
        archive.extractall(staging, filter="data")
    (top,) = list(staging.iterdir())
    os.replace(top, tree)
    staging.rmdir()
