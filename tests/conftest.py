"""Shared fixtures: the example project, and a real OpenAI-compatible server (llama-cpp-python's)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
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


# ------------------------------------------------- a real model server
def closed_port() -> int:
    """A port nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_llama_cpp_server(log: Path) -> tuple[subprocess.Popen, str]:
    """`python -m llama_cpp.server` with the embedded model on a free port; waits for /v1/models."""
    from orps_lsp.model.cpu_probe import llama_cpp_server_command
    from orps_lsp.model.embedded import ensure_embedded

    port = closed_port()
    command = [
        *llama_cpp_server_command(),
        "--model",
        str(ensure_embedded()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "8192",
        "--n_threads",
        str(min(4, os.cpu_count() or 1)),
        # Its default stops a streamed answer as soon as another request waits for the model.
        "--interrupt_requests",
        "False",
        # Logits of every prompt token are of no use here, and slow it down.
        "--logits_all",
        "False",
    ]
    process = subprocess.Popen(
        command,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # its access log, line by line
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.3)
    stop_server(process)
    raise RuntimeError(f"llama_cpp.server did not start in 120 s:\n{log.read_text()[-2000:]}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    """The base URL of a llama_cpp.server with the embedded model, one per test module (stopped at its end:
    a server left running would count as a leftover process in the sandbox tests)."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    process, url = start_llama_cpp_server(tmp_path_factory.mktemp("server") / "server.log")
    yield url
    stop_server(process)


# ------------------------------------------------- a user's environment
@pytest.fixture(scope="session")
def user_python() -> Path:
    """The python of a venv with orps-lsp as users install it (no test extras) and the
    corpus of real projects (tests/user_env.py)."""
    import user_env
    from corpus_projects import PROJECTS

    try:
        return user_env.ensure(PROJECTS)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:  # no network for PyPI, say
        pytest.fail(f"could not set up the corpus environment: {error}")


@pytest.fixture(params=["warm", "cold", "cold-unisolated"])
def run_mode(request, monkeypatch) -> str:
    """The warm worker, cold runs under the strongest isolation here, and cold runs with none."""
    monkeypatch.setenv("ORPS_WARM_WORKER", "1" if request.param == "warm" else "0")
    if request.param == "cold-unisolated":
        monkeypatch.setenv("ORPS_ISOLATION", "none")
    return request.param
