"""One place that turns model settings into a `ChatModel` (CLI and language server).

`ORPS_SCRIPTED_MODEL=answers.json` (a JSON list of answer strings, cycled)
replaces the real model with a scripted one: a testing hook for end-to-end
tests of the CLI and the server that must be fast and deterministic.

An endpoint (argument, else `ORPS_ENDPOINT`) selects the remote backend: an
OpenAI-compatible server, checked before it is returned. The API key falls
back to `ORPS_API_KEY`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from ..settings_schema import default
from .base import ChatModel
from .scripted import SCRIPTED_MODEL_ENV, scripted_model_from

ENDPOINT_ENV = "ORPS_ENDPOINT"
API_KEY_ENV = "ORPS_API_KEY"
REMOTE_PARALLEL = default("parallel")  # a GPU server usually has a few slots


class ModelSettings(Protocol):
    """The model's settings as the CLI's arguments and the server's Settings both hold them
    (the same names: settings_schema)."""

    @property
    def model(self) -> str | None: ...
    @property
    def context_size(self) -> int: ...
    @property
    def threads(self) -> int | None: ...
    @property
    def gpu_layers(self) -> int | None: ...
    @property
    def endpoint(self) -> str | None: ...
    @property
    def api_key(self) -> str | None: ...
    @property
    def remote_model(self) -> str | None: ...
    @property
    def parallel(self) -> int: ...


def load_configured(settings: ModelSettings) -> ChatModel:
    """The model that these settings name: the one call the CLI and the language server make."""
    return load_model(
        settings.model,
        n_ctx=settings.context_size,
        n_threads=settings.threads,
        gpu_layers=settings.gpu_layers,
        endpoint=settings.endpoint,
        api_key=settings.api_key,
        remote_model=settings.remote_model,
        max_parallel=settings.parallel,
    )


def load_model(
    spec: str | None = None,
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    remote_model: str | None = None,
    max_parallel: int = 1,
    timeout: float = 120.0,
    n_ctx: int = 8192,
    n_threads: int | None = None,
    gpu_layers: int | None = None,
) -> ChatModel:
    """The model for these settings. `spec`, `n_ctx`, `n_threads` and `gpu_layers` are for
    the in-process backend; `endpoint` and the rest after it for the remote one. `max_parallel`
    is for both: requests in flight on the server, or sequences decoded together in process."""
    scripted = os.environ.get(SCRIPTED_MODEL_ENV)
    if scripted:
        return scripted_model_from(Path(scripted))
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV)
    if endpoint:
        return load_remote_model(
            endpoint,
            api_key=api_key or os.environ.get(API_KEY_ENV),
            model=remote_model,
            max_parallel=max_parallel,
            timeout=timeout,
        )
    from .llama import LlamaCppModel  # llama.cpp loads only when a real model is asked for

    # max_parallel > 1: the children of a node are decoded together in one llama.cpp batch.
    return LlamaCppModel(spec, n_ctx=n_ctx, n_threads=n_threads, gpu_layers=gpu_layers, parallel=max_parallel)


def load_remote_model(endpoint: str, *, api_key: str | None, model: str | None, max_parallel: int, timeout: float) -> ChatModel:
    """The HTTP backend, health-checked: a wrong endpoint, key or model name fails here, in plain words."""
    from .http import OpenAICompatibleModel

    remote = OpenAICompatibleModel(endpoint, api_key=api_key, model=model, timeout=timeout, max_parallel=max_parallel)
    try:
        remote.health_check()
    except BaseException:
        remote.close()
        raise
    return remote
