"""A scripted stand-in model for fast, deterministic tests of the search logic."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..cancel import CancelToken
from .base import ChatModel, Completion, Message, ModelError

SCRIPTED_MODEL_ENV = "ORPS_SCRIPTED_MODEL"
CRITIC_PREFILL = "Critique:"  # prompts.CRITIC_PREFILL; not imported to keep the model package free of the search core

Responder = Callable[[list[Message], str], str]


class ScriptedModel:
    """Answers from a list (cycled) or a function of (messages, prefill).

    Records every call so tests can check what the engine asked.
    """

    def __init__(self, answers: Iterable[str] | Responder, name: str = "scripted") -> None:
        self.name = name
        self._responder = answers if callable(answers) else None
        self._answers = [] if callable(answers) else list(answers)
        self.calls: list[dict[str, Any]] = []

    def chat(
        self,
        messages: list[Message],
        *,
        prefill: str = "",
        max_tokens: int = 512,
        temperature: float = 0.7,
        seed: int = 0,
        stop: list[str] | None = None,
        cancel: CancelToken | None = None,
    ) -> Completion:
        if cancel is not None:
            cancel.raise_if_cancelled()
        if self._responder is not None:
            text = self._responder(messages, prefill)
        else:
            text = self._answers[len(self.calls) % len(self._answers)]
        self.calls.append({"messages": messages, "prefill": prefill, "seed": seed, "temperature": temperature})
        prompt_tokens = sum(len(m["content"]) for m in messages) // 4
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            prompt_tokens_evaluated=prompt_tokens,
            completion_tokens=max(1, len(text) // 4),
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": "scripted", "model": self.name}


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
    """The model an ORPS_SCRIPTED_MODEL file describes: a list of answers, or
    {programmer: [...], critic: [...], delaySeconds?, loadSeconds?}. "loadSeconds"
    makes loading take that long, uninterruptibly, as llama.cpp's load does (tests
    of cancelling during the model load)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{SCRIPTED_MODEL_ENV}: cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        if not _strings(data):
            raise ModelError(f"{SCRIPTED_MODEL_ENV}={path}: expected a non-empty JSON list of strings")
        return ScriptedModel(data, name=f"scripted:{path.name}")
    if not (_strings(data.get("programmer")) and _strings(data.get("critic"))):
        raise ModelError(f"{SCRIPTED_MODEL_ENV}: {path} must hold a list of answers or {{programmer: [...], critic: [...]}}")
    responder, delay = _by_role(data["programmer"], data["critic"]), float(data.get("delaySeconds", 0))
    load = float(data.get("loadSeconds", 0))
    if load > 0:
        time.sleep(load)
    return SlowScriptedModel(responder, delay) if delay > 0 else ScriptedModel(responder, name="scripted")
