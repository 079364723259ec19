"""The model interface the search core talks to.

A backend turns a chat (system/user/assistant messages) plus an optional
*prefill* (the start of the assistant's answer, written for it) into a
completion. Prefilling an opened code fence and the signature roughly
triples how often the 0.5B model writes a correct function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from ..cancel import CancelToken


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


class ModelError(Exception):
    """The model cannot be loaded or used (one clear message)."""


@dataclass
class Completion:
    text: str  # the generated text only (the prefill is not repeated)
    prompt_tokens: int = 0  # tokens in the prompt sent
    prompt_tokens_evaluated: int = 0  # of those, tokens the backend actually evaluated
    completion_tokens: int = 0
    prompt_seconds: float = 0.0
    generation_seconds: float = 0.0
    finish_reason: str = "stop"  # "stop" | "length" | "cancelled"

    def __post_init__(self) -> None:
        # Every backend's text comes through here, once: the one place it is made safe.
        self.text = well_formed(self.text)


def well_formed(text: str) -> str:
    """`text` as valid Unicode: a lone surrogate (broken UTF-8 from a backend, a hostile
    endpoint) becomes U+FFFD instead of crashing each later encode (the extractor, the
    report, the file written); surrogate pairs are joined. NUL goes too: Python source
    cannot hold it."""
    if text.isascii():
        return text.replace("\x00", "")
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", "")


@dataclass
class ChatRequest:
    """One chat call, for backends that can serve several at once (`chat_many`)."""

    messages: list[Message]
    prefill: str = ""
    max_tokens: int = 512
    temperature: float = 0.7
    seed: int = 0
    stop: list[str] | None = None


class ChatModel(Protocol):
    name: str

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
    ) -> Completion: ...

    def describe(self) -> dict[str, Any]: ...


def chat_once(model: ChatModel, request: ChatRequest, cancel: CancelToken | None = None) -> Completion:
    """One request through `model.chat` (a backend's one-by-one path, and the search's)."""
    return model.chat(
        request.messages,
        prefill=request.prefill,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        seed=request.seed,
        stop=request.stop,
        cancel=cancel,
    )


class ConcurrentChatModel(ChatModel, Protocol):
    """A backend that generates several answers together (a server with free slots).

    The search sends the children of one node through `chat_many` when the
    backend has `max_parallel > 1`; results come back in request order.
    """

    max_parallel: int

    def chat_many(self, requests: list[ChatRequest], *, cancel: CancelToken | None = None) -> list[Completion]: ...
