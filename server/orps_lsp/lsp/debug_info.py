"""orps.debugInfo's answer: what a bug report needs about this server, its settings, model, machine and editor."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
from typing import Any

from .. import __version__
from .client import EditorClient
from .jobs import SearchQueue
from .model_loading import ModelHolder
from .settings import Settings

log = logging.getLogger("orps_lsp.debug_info")


async def collect_debug_info(
    settings: Settings, models: ModelHolder, jobs: SearchQueue, client: EditorClient, *, review_edits: bool, search_progress: bool
) -> dict[str, Any]:
    # Importing llama.cpp and probing bubblewrap take a while: off the event loop, so that
    # the editor's other requests are answered meanwhile.
    gpu, sandbox = await asyncio.gather(asyncio.to_thread(_gpu_state, settings), asyncio.to_thread(_sandbox_isolation))
    info = {
        "version": __version__,
        "python": platform.python_version(),
        "settings": settings.to_editor_dict(),
        "model": models.describe(),
        "gpu": gpu,
        "sandbox": sandbox,
        "searches": [
            {"function": job.function, "file": job.key[0], "state": "running" if job.started else "queued"}
            for job in jobs.active()
        ],
        "client": {
            "name": client.name,
            "reviewEdits": review_edits,
            "searchProgress": search_progress,
            "capabilities": client.describe_capabilities(),
        },
    }
    log.info("debug info: %s", info)
    return info


def _gpu_state(settings: Settings) -> dict[str, Any]:
    try:
        from ..model.llama import gpu_offload_supported

        supported = gpu_offload_supported()
    except Exception as exc:  # a broken llama.cpp install must not break the debug view
        return {"offload_supported": None, "error": str(exc)}
    layers = settings.gpu_layers if settings.gpu_layers is not None else (-1 if supported else 0)
    return {"offload_supported": supported, "gpu_layers": layers, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def _sandbox_isolation() -> Any:
    """Which isolation layers the sandbox puts in force on this machine (probed when asked)."""
    try:
        from ..sandbox import describe_isolation

        return describe_isolation()
    except Exception as exc:  # a failing probe must not break the debug view
        return {"error": str(exc)}
