"""The remote backend: any OpenAI-compatible chat server over HTTP.

llama.cpp's llama-server, vLLM, Ollama and llama-cpp-python's own server all
speak `POST /v1/chat/completions` and apply the model's chat template
themselves, so one client serves them all.

Answers are streamed, for two reasons: a closed stream is how each of these
servers learns that the user cancelled (they stop generating at the next
token), and the read timeout then means "the server said nothing for
`timeout` seconds" rather than "the whole answer took too long".

Prefill (the start of the answer, written for the model) is sent as a
trailing assistant message. llama-server and Ollama continue it, vLLM does
when asked (`continue_final_message`). llama-cpp-python's server starts a new
turn instead, in which the model usually writes the prefill again, often
after a sentence. `health_check` tells the two kinds apart (see
`probe_prefill`); for a new-turn server the stop strings are applied here,
after the prefill shows up again (the server would stop at the fence that
opens the code), and `after_prefill` cuts the repetition, so that
`prefill + text` reads right either way.

The requests run on one asyncio loop in a daemon thread: the search's plain
threads wait on it, and a cancel closes every open request at once.

This module is the backend's `ConcurrentChatModel` and its public entry; the
parts it is made of live beside it:

- http_endpoint.py: the endpoint URL made canonical (`normalize_endpoint`);
- http_loop.py: the asyncio loop in a daemon thread;
- http_transport.py: the HTTP client, its slots, timeouts and retries;
- http_errors.py: statuses and network failures in words;
- http_request.py: the body of a chat request;
- http_probe.py: whether the server continues a prefill;
- http_answer.py: reading a streamed or JSON chat completion;
- http_prefill.py: the prefill's repetition in a new turn (`after_prefill`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from ..cancel import CancelToken
from .base import ChatRequest, Completion, Message, ModelError
from .http_answer import Answer
from .http_endpoint import display_name, normalize_endpoint
from .http_loop import LoopThread
from .http_prefill import PREFILL_SEARCH_CHARS, after_prefill, stop_index
from .http_probe import probe_prefill
from .http_request import chat_body
from .http_transport import CONNECT_TIMEOUT, MAX_RETRY_DELAY, RETRY_STATUSES, Transport

__all__ = [
    "CONNECT_TIMEOUT",
    "MAX_RETRY_DELAY",
    "PREFILL_SEARCH_CHARS",
    "RETRY_STATUSES",
    "OpenAICompatibleModel",
    "after_prefill",
    "normalize_endpoint",
]


class OpenAICompatibleModel:
    """A `ConcurrentChatModel` that asks a remote OpenAI-compatible server.

    `timeout`: the longest silence accepted from the server (connecting, the
    first token, each next token). `max_parallel`: requests in flight at
    once; match the server's slots. `retries`: extra tries on 429/502/503/504.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 120.0,
        max_parallel: int = 1,
        retries: int = 3,
    ) -> None:
        self.endpoint = normalize_endpoint(endpoint)
        self._api_key = api_key or None
        self.model = model or None  # sent with each request; chosen by health_check() when None
        self.name = display_name(self.model)
        self.timeout = float(timeout)
        self.max_parallel = max(1, int(max_parallel))
        self.retries = max(0, int(retries))
        self.server_models: list[str] = []
        self.continues_prefill: bool | None = None  # None until probed
        self.usage_reported: bool | None = None  # None until the first answer
        self._loop = LoopThread()
        self._transport = Transport(
            self.endpoint, api_key=self._api_key, timeout=self.timeout, max_parallel=self.max_parallel, retries=self.retries
        )
        self._probe_lock: asyncio.Lock | None = None

    # ---------------------------------------------------------- public API
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
        request = ChatRequest(messages, prefill=prefill, max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop)
        return self.chat_many([request], cancel=cancel)[0]

    def chat_many(self, requests: list[ChatRequest], *, cancel: CancelToken | None = None) -> list[Completion]:
        """All requests at once (at most `max_parallel` in flight); results in request order."""
        if cancel is not None:
            cancel.raise_if_cancelled()
        if not requests:
            return []
        return self._loop.run(self._generate_all(requests), cancel)

    def health_check(self) -> dict[str, Any]:
        """List the server's models and make two one-token chat calls; raise ModelError saying what is wrong."""
        return self._loop.run(self._health())

    def describe(self) -> dict[str, Any]:
        prefill = {
            None: "not checked yet",
            True: "continued by the server",
            False: "the server starts a new turn: its repetition is cut, stop strings applied here",
        }
        usage = {
            None: "not known yet",
            True: "reported by the server",
            False: "estimated (the server reports none when streaming, or the answer was stopped here)",
        }
        return {
            "backend": "OpenAI-compatible HTTP",
            "endpoint": self.endpoint,
            "model": self.model or "(the server's default)",
            "max_parallel": self.max_parallel,
            "timeout_seconds": self.timeout,
            "retries": self.retries,
            "api_key": "set" if self._api_key else "not set",
            "server_models": self.server_models,
            "prefill": prefill[self.continues_prefill],
            "token_counts": usage[self.usage_reported],
        }

    def close(self) -> None:
        """Close the connections and stop the loop; the model cannot be used after."""
        if not self._loop.closed:
            try:
                self._loop.run(self._transport.shutdown())
            except Exception:  # closing a broken connection must not hide the real error
                pass
        self._loop.close()

    # -------------------------------------------------------------- health
    async def _health(self) -> dict[str, Any]:
        where = self._transport.where
        listing, raw = await self._transport.send_json("GET", "models", None, "models")
        try:
            self.server_models = [str(entry["id"]) for entry in listing["data"]]
        except (KeyError, TypeError):
            raise ModelError(f"{self.endpoint}/models did not answer like an OpenAI API (it sent {raw[:120]!r})") from None
        if self.model:
            # Ollama resolves 'name' to 'name:latest'.
            if self.server_models and not {self.model, f"{self.model}:latest"} & set(self.server_models):
                raise ModelError(f"{where} has no model named '{self.model}'; it serves: {', '.join(self.server_models)}")
        elif len(self.server_models) == 1:
            self.model = self.server_models[0]
        elif len(self.server_models) > 1:
            raise ModelError(
                f"{where} serves several models ({', '.join(self.server_models)}); "
                "choose one with --remote-model or the remoteModel setting"
            )
        self.name = display_name(self.model)
        self.continues_prefill = None  # the server may have changed: ask again
        await self._prefill_mode()
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "models": self.server_models,
            "continues_prefill": self.continues_prefill,
        }

    async def _prefill_mode(self) -> bool:
        """Whether the server continues a trailing assistant message (probed once)."""
        if self._probe_lock is None:  # made on the loop that uses it
            self._probe_lock = asyncio.Lock()
        async with self._probe_lock:
            if self.continues_prefill is None:
                self.continues_prefill = await probe_prefill(self._transport, self.model)
        return self.continues_prefill

    # ---------------------------------------------------------- generation
    async def _generate_all(self, requests: list[ChatRequest]) -> list[Completion]:
        tasks = [asyncio.ensure_future(self._generate(request)) for request in requests]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            # One failed or the user cancelled: close the other requests too, and wait for that.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _generate(self, request: ChatRequest) -> Completion:
        transport = self._transport
        new_turn = bool(request.prefill) and not await self._prefill_mode()
        body = chat_body(request, self.model)
        stop_at: Callable[[str], int | None] | None = None
        if new_turn and request.stop:
            # The server would stop at the fence that opens the new answer's code block.
            body.pop("stop")
            prefill, stops = request.prefill, request.stop
            stop_at = lambda text: stop_index(text, prefill, stops)  # noqa: E731
        async with transport.slots():
            started = time.perf_counter()
            response = await transport.send("POST", "chat/completions", body, "chat")
            try:
                if response.headers.get("content-type", "").startswith("application/json"):
                    answer = Answer.from_json(await response.aread())  # the server ignored stream=True
                else:
                    answer = await Answer.from_stream(response, transport.where, stop_at)
            except httpx.TransportError as error:
                raise ModelError(transport.explain_transport(error, answering=True)) from None
            finally:
                await response.aclose()  # after a stop found here, this is what stops the server
        ended = time.perf_counter()
        if answer.finish_reason is None:
            if answer.done:
                raise ModelError(
                    f"{transport.where} cut an answer short without saying why. llama-cpp-python's server "
                    "does this when another request arrives: start it with --interrupt_requests False, "
                    "or set parallel to 1"
                )
            raise ModelError(transport.explain_transport(httpx.RemoteProtocolError("stream ended"), answering=True))
        return self._completion(request, answer, answer.finish_reason, started, ended, new_turn)

    def _completion(
        self, request: ChatRequest, answer: Answer, finish_reason: str, started: float, ended: float, new_turn: bool
    ) -> Completion:
        usage, timings = answer.usage or {}, answer.timings or {}
        self.usage_reported = bool(usage)
        if usage:
            prompt_tokens = int(usage.get("prompt_tokens") or 0)
            completion_tokens = int(usage.get("completion_tokens") or answer.pieces)
        else:  # a rough count: about four characters a token
            chars = sum(len(m["content"]) for m in request.messages) + len(request.prefill)
            prompt_tokens, completion_tokens = chars // 4, answer.pieces
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or timings.get("cache_n") or 0
        evaluated = timings.get("prompt_n", prompt_tokens - cached)
        first = answer.first_token_at or ended
        return Completion(
            text=after_prefill(request.prefill, answer.text, new_turn=new_turn),
            prompt_tokens=prompt_tokens,
            prompt_tokens_evaluated=max(0, int(evaluated)),
            completion_tokens=completion_tokens,
            prompt_seconds=first - started,
            generation_seconds=ended - first,
            finish_reason=finish_reason,
        )
