"""Whether llama.cpp's extra CPU buffer types (AMX tiles, repacked weights) work here.

On a CPU that reports AMX, llama.cpp puts the weights in AMX buffers. Some virtual
machines (Firecracker here) report AMX and grant the permission to use it, but the
first tile instruction faults: the process dies with SIGSEGV at its first decode, in
native code, where no Python error can be caught. So before the first load on such a
CPU, a child process loads the model and decodes two tokens; if it dies, models load
without the extra buffer types (a little slower, never a crash). The answer is kept
per CPU, kernel and llama.cpp version in the cache directory.

ORPS_LLAMA_EXTRA_BUFFERS=1 or 0 decides without a probe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from .embedded import cache_dir

log = logging.getLogger("orps_lsp.model")

ENV_VAR = "ORPS_LLAMA_EXTRA_BUFFERS"
_PROBE_SECONDS = 180
_PROBE = """
import sys, llama_cpp
model = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, n_gpu_layers=0, verbose=False)
model.create_completion("def f(x):", max_tokens=2)
"""


def extra_buffers_work(model_path: Path) -> bool:
    chosen = os.environ.get(ENV_VAR, "")
    if chosen in ("0", "1"):
        return chosen == "1"
    if not _cpu_reports_amx():
        return True
    record = cache_dir() / "cpu-probe.json"
    key = _machine_key()
    try:
        known = json.loads(record.read_text())
        found = known.get(key) if isinstance(known, dict) else None
        if isinstance(found, bool):
            return found
    except (OSError, ValueError):
        known = {}
    works = _probe(model_path)
    if not works:
        log.warning("llama.cpp's AMX buffers crash on this CPU; the model loads without them (%s=1 to use them anyway)", ENV_VAR)
    with contextlib.suppress(OSError):
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({**(known if isinstance(known, dict) else {}), key: works}))
    return works


@contextlib.contextmanager
def without_extra_buffers(llama_cpp_module: ModuleType) -> Iterator[None]:
    """Models loaded inside get `use_extra_bufts = false` (llama-cpp-python's Llama takes
    its model parameters from llama_model_default_params, and does not expose this one)."""
    low_level = llama_cpp_module.llama_cpp
    default = low_level.llama_model_default_params

    def params() -> Any:  # the module's llama_model_params, whatever the module given
        value = default()
        value.use_extra_bufts = False
        return value

    low_level.llama_model_default_params = params
    try:
        yield
    finally:
        low_level.llama_model_default_params = default


def _cpu_reports_amx() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False  # not Linux: no AMX buffers to fear (macOS, Windows builds)
    return any(line.startswith("flags") and " amx_" in line for line in text.splitlines())


def _machine_key() -> str:
    try:
        import llama_cpp

        version = getattr(llama_cpp, "__version__", "?")
    except ImportError:
        version = "?"
    cpu = next(
        (line for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines() if line.startswith("model name")), ""
    )
    return hashlib.sha256(f"{cpu}|{platform.release()}|{version}".encode()).hexdigest()[:16]


def _probe(model_path: Path) -> bool:
    try:
        run = subprocess.run(
            [sys.executable, "-c", _PROBE, str(model_path)], capture_output=True, timeout=_PROBE_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return run.returncode == 0


# `python -m llama_cpp.server ARGS` (its --model among them), without the extra buffer types
# where they crash: the benchmarks' and the tests' stand-in for a user's model server.
_SERVER_LAUNCH = """
import contextlib, runpy, sys
from pathlib import Path
import llama_cpp
from orps_lsp.model.cpu_probe import extra_buffers_work, without_extra_buffers
model = Path(sys.argv[sys.argv.index("--model") + 1])
with contextlib.nullcontext() if extra_buffers_work(model) else without_extra_buffers(llama_cpp):
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def llama_cpp_server_command() -> list[str]:
    """What starts llama-cpp-python's server here; the server's own arguments follow."""
    return [sys.executable, "-c", _SERVER_LAUNCH]
