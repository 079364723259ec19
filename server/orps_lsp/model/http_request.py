"""The body of a chat completion request, as the OpenAI-compatible servers read it."""

from __future__ import annotations

from typing import Any

from .base import ChatRequest


def chat_body(request: ChatRequest, model: str | None) -> dict[str, Any]:
    """A streamed request; `model` is named when known (a server with one model needs none)."""
    messages = list(request.messages)
    body: dict[str, Any] = {
        "messages": messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "seed": request.seed,
        "stream": True,
        "stream_options": {"include_usage": True},
        # llama.cpp servers read this (others ignore it); llama-cpp-python's server
        # defaults to 1.1, which garbles code, unlike the in-process backend's 1.0.
        "repeat_penalty": 1.0,
    }
    if model:
        body["model"] = model
    if request.stop:
        body["stop"] = list(request.stop)
    if request.prefill:
        body["messages"] = messages + [{"role": "assistant", "content": request.prefill}]
        body["continue_final_message"] = True  # vLLM: continue that message, do not answer it
        body["add_generation_prompt"] = False
    return body
