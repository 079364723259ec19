"""The model the searches share: loaded on the first search, kept, reloaded on change.

Real models come from `model.loader.load_model` (local llama.cpp, or a remote
OpenAI-compatible endpoint), as for the CLI.

Testing hook: with ORPS_SCRIPTED_MODEL=/path/answers.json the server uses a
`ScriptedModel` instead. The file holds either a JSON list of answer strings
(cycled over all calls; read by `load_model`), or, for the server's tests, an
object

    {"programmer": [...], "critic": [...], "delaySeconds": 0.5}

whose lists are cycled separately for the two roles (the critic is the call
prefilled with "Critique:"); "delaySeconds" makes every answer take that long
(cancellation and latency tests). Programmer answers continue the prefill,
which already opened the code fence and wrote the signature. The file is
re-read for every search, so each search starts the script afresh.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..model.base import ChatModel
from ..model.loader import ENDPOINT_ENV, SCRIPTED_MODEL_ENV, load_model
from .settings import Settings


class ModelHolder:
    """Owns the loaded model. `get` runs on the search worker only; `describe` from anywhere."""

    def __init__(self) -> None:
        self._model: ChatModel | None = None
        self._key: tuple | None = None
        self._lock = threading.Lock()

    @staticmethod
    def scripted_path() -> Path | None:
        value = os.environ.get(SCRIPTED_MODEL_ENV)
        return Path(value) if value else None

    def get(self, settings: Settings, say: Callable[[str], None]) -> ChatModel:
        """The model for `settings`, loading it if needed; raises ModelError with one clear sentence."""
        if self.scripted_path() is not None:
            return load_model()  # re-read for every search: each starts the script afresh
        key = settings.model_key()
        with self._lock:
            if self._model is not None and self._key == key:
                return self._model
            previous, self._model, self._key = self._model, None, None
        # Let the old model go before loading the new one: two may not fit in memory.
        if previous is not None and hasattr(previous, "close"):
            previous.close()
        endpoint = settings.endpoint or os.environ.get(ENDPOINT_ENV)
        say(f"connecting to {endpoint} ..." if endpoint else
            f"loading model {settings.model or os.environ.get('ORPS_MODEL') or '(embedded default)'} ...")
        model = load_model(settings.model, n_ctx=settings.context_size, n_threads=settings.threads, gpu_layers=settings.gpu_layers,
                           endpoint=settings.endpoint, remote_model=settings.remote_model, max_parallel=settings.parallel)
        with self._lock:
            self._model, self._key = model, key
        return model

    def describe(self) -> dict[str, Any]:
        scripted = self.scripted_path()
        if scripted is not None:
            return {"backend": "scripted (testing hook)", SCRIPTED_MODEL_ENV: str(scripted)}
        with self._lock:
            model = self._model
        if model is None:
            return {"loaded": False, "note": "the model loads on the first search"}
        return {"loaded": True, **model.describe()}
