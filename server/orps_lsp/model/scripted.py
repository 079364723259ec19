"""A scripted stand-in model for fast, deterministic tests of the search logic."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..cancel import CancelToken
from .base import Completion, Message

Responder = Callable[[list[Message], str], str]


class ScriptedModel:
    """Answers from a list (cycled) or a function of (messages, prefill).

    Records every call so tests can check what the engine asked.
    """

    def __init__(self, answers: Iterable[str] | Responder, name: str = "scripted") -> None:
        self.name = name
        self._responder = answers if callable(answers) else None
        self._answers = [] if callable(answers) else list(answers)
        self.calls: list[dict] = []

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

    def describe(self) -> dict:
        return {"backend": "scripted", "model": self.name}
