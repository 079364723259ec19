"""Reading a chat completion: server-sent events as they stream in, or one JSON body.

Answers are streamed so that closing the stream cancels the generation; some
servers ignore `stream=True` and send the whole answer as JSON, read here too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from .base import ModelError
from .http_errors import error_detail


class Answer:
    """What a chat completion said: text, finish reason, and the server's counts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pieces = 0  # streamed pieces of text, about one per token
        self.first_token_at: float | None = None
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.timings: dict[str, Any] | None = None  # llama-server's: prompt_n (evaluated), cache_n (reused)
        self.done = False  # the stream ended with [DONE]

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _take(self, data: dict[str, Any], where: str, key: str) -> None:
        if data.get("error") or data.get("object") == "error":
            raise ModelError(f"{where} reported an error: {error_detail(json.dumps(data).encode())}")
        self.usage = data.get("usage") or self.usage
        self.timings = data.get("timings") or self.timings
        for choice in data.get("choices") or []:
            text = (choice.get(key) or {}).get("content")
            if text:
                self.first_token_at = self.first_token_at or time.perf_counter()
                self.parts.append(text)
                self.pieces += 1
            self.finish_reason = choice.get("finish_reason") or self.finish_reason

    @classmethod
    def from_json(cls, raw: bytes) -> Answer:
        answer = cls()
        try:
            answer._take(json.loads(raw), "the model server", "message")
        except (ValueError, AttributeError):
            raise ModelError(f"the model server sent an answer that is not a chat completion: {raw[:120]!r}") from None
        answer.done = True
        return answer

    @classmethod
    async def from_stream(cls, response: httpx.Response, where: str, stop_at: Callable[[str], int | None] | None) -> Answer:
        """Read server-sent events (`data: {chunk}` lines, then `data: [DONE]`), stopping early where `stop_at` says."""
        answer = cls()
        async for line in response.aiter_lines():
            if line.startswith("error:"):  # llama-server's way to fail mid-stream
                raise ModelError(f"{where} reported an error: {error_detail(line[6:].strip().encode())}")
            if not line.startswith("data:"):
                continue  # blank separators, ": ping" keep-alives, event names
            payload = line[5:].strip()
            if payload == "[DONE]":
                answer.done = True
                break
            try:
                answer._take(json.loads(payload), where, "delta")
            except (ValueError, AttributeError):
                raise ModelError(f"{where} sent a chunk that is not JSON: {payload[:120]!r}") from None
            cut = stop_at(answer.text) if stop_at is not None else None
            if cut is not None:
                answer.parts, answer.finish_reason, answer.done = [answer.text[:cut]], "stop", True
                answer.usage = answer.timings = None  # partial counts, if any, would mislead
                break
        return answer
