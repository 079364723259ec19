"""The model the searches share: loaded on the first search, kept, reloaded on change.

Real models come from `model.loader.load_model` (local llama.cpp, or a remote
OpenAI-compatible endpoint), as for the CLI.

`refresh` runs on start and after every settings change, in a thread: it
retires a model the new settings replace (closed at once, or when the search
using it ends: llama.cpp's memory, the HTTP connections), and connects to a
remote endpoint right away, so that a wrong URL, key or model name is told
before the first search. A local model still loads at the first search.

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

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..model.base import ChatModel, ModelError
from ..model.loader import ENDPOINT_ENV, load_configured, load_model
from ..model.scripted import SCRIPTED_MODEL_ENV
from .settings import Settings

log = logging.getLogger("orps_lsp.model_loading")
IDLE_POLL_SECONDS = 0.5  # how often a retired model in use looks whether its search has ended


class ModelHolder:
    """Owns the loaded model. `get` runs on the search worker only; `refresh` on a thread of
    its own; `describe` from anywhere.

    `busy` says whether a search is queued or running: one may still hold a
    model that the settings replaced, which is then closed after it.
    """

    def __init__(self, busy: Callable[[], bool] = lambda: False) -> None:
        self._model: ChatModel | None = None
        self._key: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._busy = busy
        self._retired: list[ChatModel] = []  # replaced, not yet closed
        self._checked: tuple[Any, ...] | None = None  # the model key `refresh` last looked at
        self._generation = 0  # bumped by each refresh: a slower, older check gives way
        self._intended: dict[str, Any] = {}  # the backend the settings ask for (before it loads)
        self._problem: str | None = None  # what the last check found wrong

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
            if self._model is not None:
                self._retired.append(self._model)
            self._model, self._key = None, None
            # This worker runs one search at a time and has not started this one: no search holds a retired
            # model. Let them go before loading the new one: two may not fit in memory.
            retired, self._retired = self._retired, []
        _close(retired)
        endpoint = settings.endpoint or os.environ.get(ENDPOINT_ENV)
        say(
            f"connecting to {endpoint} ..."
            if endpoint
            else f"loading model {settings.model or os.environ.get('ORPS_MODEL') or '(embedded default)'} ..."
        )
        model = self._load(settings)
        with self._lock:
            if self._model is not None:  # a check connected meanwhile
                self._retired.append(self._model)
            self._model, self._key = model, key
        return model

    @staticmethod
    def _load(settings: Settings) -> ChatModel:
        return load_configured(settings)

    def refresh(self, settings: Settings) -> str | None:
        """On start and on settings change (blocking: call it in a thread). Retires a replaced model and
        checks a remote endpoint now; returns what is wrong, in one sentence, or None.

        Settings whose model part did not change since the last call are not checked again (each problem
        is told once; the next search tries again and tells it there).
        """
        if self.scripted_path() is not None:
            return None
        key = settings.model_key()
        endpoint = settings.endpoint or os.environ.get(ENDPOINT_ENV)
        with self._lock:
            if key == self._checked:
                return None
            self._checked, self._problem = key, None
            self._generation += 1
            generation = self._generation
            self._intended = (
                {"backend": "OpenAI-compatible HTTP", "endpoint": endpoint}
                if endpoint
                else {
                    "backend": "llama-cpp-python (in process)",
                    "model": settings.model or os.environ.get("ORPS_MODEL") or "(embedded default)",
                }
            )
            if self._model is not None and self._key != key:
                self._retired.append(self._model)
                self._model, self._key = None, None
        self._close_retired()
        if not endpoint or (self._model is not None and self._key == key):
            return None  # a local model loads at the first search
        log.info("checking the model server at %s", endpoint)
        try:
            model = self._load(settings)
        except ModelError as exc:
            with self._lock:
                current = generation == self._generation
                if current:
                    self._problem = str(exc)
            return str(exc) if current else None
        with self._lock:
            current = generation == self._generation and self._checked == key
            if current and self._key != key:
                if self._model is not None:
                    self._retired.append(self._model)
                self._model, self._key = model, key
            elif current:  # a search connected meanwhile with the same settings: keep its model
                self._retired.append(model)
        if not current:  # newer settings came while this one was checked
            _close([model])
            return None
        self._close_retired()
        log.info(
            "connected to the model server: %s",
            ", ".join(f"{k}: {v}" for k, v in model.describe().items() if k in ("endpoint", "model", "max_parallel")),
        )
        return None

    def _close_retired(self) -> None:
        """Close the retired models now when no search may hold one, else once the searches end."""
        if not self._busy():
            with self._lock:
                retired, self._retired = self._retired, []
            _close(retired)
            return
        with self._lock:
            if not self._retired:
                return

        def wait_then_close() -> None:
            while self._busy():
                time.sleep(IDLE_POLL_SECONDS)
            with self._lock:
                retired, self._retired = self._retired, []
            _close(retired)

        threading.Thread(target=wait_then_close, name="orps-model-close", daemon=True).start()

    def close(self) -> None:
        """Close every model (the server is stopping)."""
        with self._lock:
            models = self._retired + ([self._model] if self._model is not None else [])
            self._retired, self._model, self._key = [], None, None
        _close(models)

    def describe(self) -> dict[str, Any]:
        scripted = self.scripted_path()
        if scripted is not None:
            return {"backend": "scripted (testing hook)", SCRIPTED_MODEL_ENV: str(scripted)}
        with self._lock:
            model, intended, problem = self._model, dict(self._intended), self._problem
        if model is None:
            remote = intended.get("backend", "").startswith("OpenAI")
            note = "the model connects at the next search" if remote else "the model loads on the first search"
            return {"loaded": False, **intended, "note": note, **({"problem": problem} if problem else {})}
        return {"loaded": True, **model.describe()}


def _close(models: list[ChatModel]) -> None:
    for model in models:
        close = getattr(model, "close", None)
        if close is None:
            continue
        try:
            close()
            log.info("closed the previous model (%s)", model.describe().get("backend"))
        except Exception:  # a failing close must not stop the next model
            log.exception("closing the previous model failed")
