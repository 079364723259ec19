"""One place that turns model settings into a `ChatModel` (CLI and language server).

`ORPS_SCRIPTED_MODEL=answers.json` (a JSON list of answer strings, cycled)
replaces the real model with a scripted one: a testing hook for end-to-end
tests of the CLI and the server that must be fast and deterministic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .base import ChatModel, ModelError

SCRIPTED_MODEL_ENV = "ORPS_SCRIPTED_MODEL"


def load_model(
    spec: str | None = None,
    *,
    n_ctx: int = 8192,
    n_threads: int | None = None,
    gpu_layers: int | None = None,
) -> ChatModel:
    scripted = os.environ.get(SCRIPTED_MODEL_ENV)
    if scripted:
        from .scripted import ScriptedModel

        try:
            answers = json.loads(Path(scripted).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{SCRIPTED_MODEL_ENV}={scripted}: cannot read a JSON list of answers ({exc})") from None
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
            raise ModelError(f"{SCRIPTED_MODEL_ENV}={scripted}: expected a non-empty JSON list of strings")
        return ScriptedModel(answers, name=f"scripted:{Path(scripted).name}")
    from .llama import LlamaCppModel  # llama.cpp loads only when a real model is asked for

    return LlamaCppModel(spec, n_ctx=n_ctx, n_threads=n_threads, gpu_layers=gpu_layers)
