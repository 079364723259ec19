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

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cancel import CancelToken
from ..model.base import ChatModel, Completion, Message, ModelError
from ..model.loader import ENDPOINT_ENV, SCRIPTED_MODEL_ENV, load_model
from ..model.scripted import Responder, ScriptedModel
from ..prompts import CRITIC_PREFILL
from .settings import Settings


class SlowScriptedModel(ScriptedModel):
    """A scripted model that takes `delay` seconds per answer; cancelling cuts the wait."""

    def __init__(self, answers: Responder, delay: float) -> None:
        super().__init__(answers, name="scripted")
        self.delay = delay

    def chat(self, messages: list[Message], *, cancel: CancelToken | None = None, **kwargs: Any) -> Completion:
        if cancel is not None:
            cancel.wait(self.delay)
        return super().chat(messages, cancel=cancel, **kwargs)


def _by_role(programmer: list[str], critic: list[str]) -> Responder:
    """A responder that cycles each role's answers on its own."""
    counts = {"programmer": 0, "critic": 0}

    def respond(messages: list[Message], prefill: str) -> str:
        role = "critic" if prefill.startswith(CRITIC_PREFILL) else "programmer"
        answers = critic if role == "critic" else programmer
        counts[role] += 1
        return answers[(counts[role] - 1) % len(answers)]

    return respond


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, str) for item in value)


def scripted_model_from(path: Path) -> ChatModel:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{SCRIPTED_MODEL_ENV}: cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        return load_model()  # the plain list the loader reads (and checks)
    if not (_strings(data.get("programmer")) and _strings(data.get("critic"))):
        raise ModelError(f"{SCRIPTED_MODEL_ENV}: {path} must hold a list of answers or {{programmer: [...], critic: [...]}}")
    responder, delay = _by_role(data["programmer"], data["critic"]), float(data.get("delaySeconds", 0))
    return SlowScriptedModel(responder, delay) if delay > 0 else ScriptedModel(responder, name="scripted")


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
        scripted = self.scripted_path()
        if scripted is not None:
            return scripted_model_from(scripted)
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
