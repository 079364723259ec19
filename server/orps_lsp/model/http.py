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
`_probe_prefill`); for a new-turn server the stop strings are applied here,
after the prefill shows up again (the server would stop at the fence that
opens the code), and `after_prefill` cuts the repetition, so that
`prefill + text` reads right either way.

The requests run on one asyncio loop in a daemon thread: the search's plain
threads wait on it, and a cancel closes every open request at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import random
import re
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..cancel import CancelToken, Cancelled
from .base import ChatRequest, Completion, Message, ModelError

# Busy or (re)starting servers and proxies in front of them: worth another try.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_DELAY = 10.0
CONNECT_TIMEOUT = 10.0
# Where a server that continued the prefill may still have repeated it (never seen; a guard).
PREFILL_SEARCH_CHARS = 400

T = TypeVar("T")


# ------------------------------------------------------------------ helpers
def normalize_endpoint(url: str) -> str:
    """'gpu-box:8080', 'http://gpu-box:8080/' or '.../v1/chat/completions' -> 'http://gpu-box:8080/v1'."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ModelError(f"the endpoint '{url}' has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelError(f"the endpoint '{url}' is not an http(s) URL (for example http://gpu-box:8080/v1)")
    path = parts.path.rstrip("/")
    for pasted in ("/chat/completions", "/models"):
        path = path.removesuffix(pasted)
    return urlunsplit((parts.scheme, parts.netloc, path or "/v1", "", ""))


_FENCE_OPENING = re.compile(r"^[ \t]*```[\w+-]*[^\n]*\n", re.MULTILINE)


def _find_lines(lines: list[str], text: str) -> re.Match | None:
    """`lines` in order, each at the start of a line of `text`, whatever the whitespace around them."""
    return re.search(r"^[ \t]*" + r"\s*".join(re.escape(line) for line in lines), text, re.MULTILINE)


def _prefill_repeated(prefill: str, text: str) -> tuple[re.Match, bool] | None:
    """Where `text` writes the prefill again: (match, whole), or None.

    `whole` is False when only the lines after a prefill's code fence were
    found: the new answer's code block starts with something else (imports).
    """
    lines = [line.strip() for line in prefill.splitlines() if line.strip()]
    if not lines:
        return None
    whole = _find_lines(lines, text)
    if whole is not None:
        return whole, True
    if len(lines) > 1 and lines[0].startswith("```"):
        signature = _find_lines(lines[1:], text)
        if signature is not None:
            return signature, False
    return None


def after_prefill(prefill: str, text: str, *, new_turn: bool = True) -> str:
    """The part of an answer that follows the prefill, so that `prefill + result` reads right.

    A server that continued the prefill returned just that part. In a new
    turn the model usually wrote the prefill again, maybe after a sentence:
    that is cut. When the prefill opens a code block and the new block puts
    imports or helpers before the signature, they are moved after the
    function, where Python still finds them at call time.
    """
    found = _prefill_repeated(prefill, text if new_turn else text[: PREFILL_SEARCH_CHARS + len(prefill)])
    if found is None:
        return text
    match, whole = found
    rest = text[match.end() :]
    if prefill.endswith("\n") and rest.startswith("\n"):
        rest = rest[1:]
    if whole:
        return rest
    fences = list(_FENCE_OPENING.finditer(text, 0, match.start()))
    preamble = text[fences[-1].end() : match.start()].strip() if fences else ""  # prose is dropped
    return rest.rstrip("\n") + ("\n\n\n" + preamble if preamble else "")


def _stop_index(text: str, prefill: str, stops: list[str]) -> int | None:
    """Where a new-turn answer reaches a stop string, looking only after the prefill's repetition."""
    found = _prefill_repeated(prefill, text)
    if found is None:
        return None
    start = found[0].end()
    hits = [index for stop in stops if (index := text.find(stop, start)) >= 0]
    return min(hits) if hits else None


def _error_detail(body: bytes) -> str:
    """The server's own words from an error body (OpenAI, FastAPI, Ollama or plain text)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error:
            return str(error)[:200]
    return text[:200]


def _display_name(model: str | None) -> str:
    """llama-cpp-python's server names a model by its file path: show the file's stem."""
    if not model:
        return "remote"
    return PurePosixPath(model).stem if model.endswith(".gguf") else model


class _LoopThread:
    """An asyncio loop in a daemon thread, for callers that are plain threads."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.closed = False
        self._thread = threading.Thread(target=self.loop.run_forever, name="orps-http", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], cancel: CancelToken | None = None) -> T:
        if self.closed:
            coroutine.close()
            raise ModelError("the connection to the model server was closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        if cancel is not None:
            # Cancelling the future cancels the task on the loop, which closes its requests.
            cancel.on_cancel(future.cancel)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise Cancelled() from None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)


# -------------------------------------------------------------------- model
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
        self.name = _display_name(self.model)
        self.timeout = float(timeout)
        self.max_parallel = max(1, int(max_parallel))
        self.retries = max(0, int(retries))
        self.server_models: list[str] = []
        self.continues_prefill: bool | None = None  # None until probed
        self.usage_reported: bool | None = None  # None until the first answer
        self._loop = _LoopThread()
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None
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
                self._loop.run(self._shutdown())
            except Exception:  # closing a broken connection must not hide the real error
                pass
        self._loop.close()

    # ------------------------------------------------------------ messages
    def _where(self) -> str:
        return f"the model server at {self.endpoint}"

    def _explain_status(self, status: int, body: bytes, asking: str) -> str:
        detail = _error_detail(body)
        said = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status in (401, 403):
            if not self._api_key:
                return f"{self._where()} requires an API key ({said}); give it with --api-key, ORPS_API_KEY or the apiKey setting"
            return f"{self._where()} rejected the API key ({said}); check --api-key, ORPS_API_KEY or the apiKey setting"
        if status == 404 and asking == "chat" and self.model:
            return f"{self._where()} has no model named '{self.model}' ({said}); list its models at {self.endpoint}/models"
        if status == 404:
            return f"{self._where()} has no OpenAI API at this path ({said}); the endpoint is the API base, for example http://gpu-box:8080/v1"
        if status == 429:
            return f"{self._where()} is busy ({said}, {self.retries + 1} tries); lower the parallel setting or try again later"
        if status in (502, 503, 504):
            return f"{self._where()} is unavailable ({said}, {self.retries + 1} tries); is it still loading the model, or restarting?"
        if 400 <= status < 500:
            return f"{self._where()} refused the request ({said})"
        return f"{self._where()} failed ({said})"

    def _explain_transport(self, error: httpx.TransportError, *, answering: bool) -> str:
        if isinstance(error, httpx.ConnectTimeout):
            return f"cannot reach {self._where()}: no connection within {min(self.timeout, CONNECT_TIMEOUT):g} s (wrong host, or a firewall?)"
        if isinstance(error, httpx.ConnectError):
            return f"cannot reach {self._where()}: {error or 'connection failed'} (is it running? are host and port right?)"
        if isinstance(error, httpx.TimeoutException):
            return (
                f"{self._where()} sent nothing for {self.timeout:g} s (overloaded or stuck?); "
                "fewer parallel requests or a longer timeout may help"
            )
        if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            when = "in the middle of an answer" if answering else "before answering"
            return f"{self._where()} closed the connection {when} (did it stop or crash?)"
        return f"{self._where()}: {type(error).__name__}: {error}"

    # ---------------------------------------------------------------- HTTP
    def _http(self) -> httpx.AsyncClient:
        """The client, made on the loop that uses it (with the loop's semaphore and lock)."""
        if self._client is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT), pool=None),
                limits=httpx.Limits(max_connections=self.max_parallel + 1),
            )
            self._slots = asyncio.Semaphore(self.max_parallel)
            self._probe_lock = asyncio.Lock()
        return self._client

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        """The server's Retry-After when it gives one, else exponential back-off with jitter."""
        try:
            delay = float(response.headers.get("retry-after", ""))
        except ValueError:
            delay = 0.5 * 2**attempt * (1 + random.random() / 2)
        return min(max(delay, 0.0), MAX_RETRY_DELAY)

    async def _send(self, method: str, path: str, body: dict | None, asking: str) -> httpx.Response:
        """An open response with a 2xx status (the caller closes it); busy answers are retried."""
        client = self._http()
        url = f"{self.endpoint}/{path}"
        for attempt in range(self.retries + 1):
            try:
                response = await client.send(client.build_request(method, url, json=body), stream=True)
            except httpx.TransportError as error:
                raise ModelError(self._explain_transport(error, answering=False)) from None
            if response.status_code < 400:
                return response
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                await response.aclose()
                await asyncio.sleep(self._retry_delay(response, attempt))
                continue
            try:
                content = await response.aread()
            except httpx.TransportError:
                content = b""
            finally:
                await response.aclose()
            raise ModelError(self._explain_status(response.status_code, content, asking))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_json(self, method: str, path: str, body: dict | None, asking: str) -> tuple[Any, bytes]:
        response = await self._send(method, path, body, asking)
        try:
            raw = await response.aread()
        except httpx.TransportError as error:
            raise ModelError(self._explain_transport(error, answering=True)) from None
        finally:
            await response.aclose()
        try:
            return json.loads(raw), raw
        except ValueError:
            return None, raw

    async def _shutdown(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        await asyncio.get_running_loop().shutdown_asyncgens()

    # -------------------------------------------------------------- health
    async def _health(self) -> dict[str, Any]:
        listing, raw = await self._send_json("GET", "models", None, "models")
        try:
            self.server_models = [str(entry["id"]) for entry in listing["data"]]
        except (KeyError, TypeError):
            raise ModelError(f"{self.endpoint}/models did not answer like an OpenAI API (it sent {raw[:120]!r})") from None
        if self.model:
            # Ollama resolves 'name' to 'name:latest'.
            if self.server_models and not {self.model, f"{self.model}:latest"} & set(self.server_models):
                raise ModelError(f"{self._where()} has no model named '{self.model}'; it serves: {', '.join(self.server_models)}")
        elif len(self.server_models) == 1:
            self.model = self.server_models[0]
        elif len(self.server_models) > 1:
            raise ModelError(
                f"{self._where()} serves several models ({', '.join(self.server_models)}); "
                "choose one with --remote-model or the remoteModel setting"
            )
        self.name = _display_name(self.model)
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
        self._http()
        assert self._probe_lock is not None
        async with self._probe_lock:
            if self.continues_prefill is None:
                self.continues_prefill = await self._probe_prefill()
        return self.continues_prefill

    async def _probe_prefill(self) -> bool:
        """Two one-token calls, without and with a trailing assistant message.

        Continued, the prompt grows by that message's text alone (a token or
        two). In a new turn it also closes the assistant's turn and opens
        another: several template tokens more. Counting beats reading what a
        small model wrote. Without counts, assume a new turn: safe for both.
        """
        question: list[Message] = [{"role": "user", "content": "Say hello."}]
        counts = []
        for messages in (question, question + [{"role": "assistant", "content": "Hello"}]):
            body = self._body(
                ChatRequest(
                    messages[:1], prefill=messages[1]["content"] if len(messages) > 1 else "", max_tokens=1, temperature=0.0
                )
            )
            body["stream"] = False
            body.pop("stream_options")
            data, _ = await self._send_json("POST", "chat/completions", body, "chat")
            try:
                counts.append(int(data["usage"]["prompt_tokens"]))
            except (KeyError, TypeError, ValueError):
                return False
        return counts[1] - counts[0] <= 2

    # ---------------------------------------------------------- generation
    def _body(self, request: ChatRequest) -> dict[str, Any]:
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
        if self.model:
            body["model"] = self.model
        if request.stop:
            body["stop"] = list(request.stop)
        if request.prefill:
            body["messages"] = messages + [{"role": "assistant", "content": request.prefill}]
            body["continue_final_message"] = True  # vLLM: continue that message, do not answer it
            body["add_generation_prompt"] = False
        return body

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
        self._http()
        new_turn = bool(request.prefill) and not await self._prefill_mode()
        body = self._body(request)
        stop_at = None
        if new_turn and request.stop:
            # The server would stop at the fence that opens the new answer's code block.
            body.pop("stop")
            stop_at = lambda text: _stop_index(text, request.prefill, request.stop)  # noqa: E731
        assert self._slots is not None
        async with self._slots:
            started = time.perf_counter()
            response = await self._send("POST", "chat/completions", body, "chat")
            try:
                if response.headers.get("content-type", "").startswith("application/json"):
                    answer = _Answer.from_json(await response.aread())  # the server ignored stream=True
                else:
                    answer = await _Answer.from_stream(response, self._where(), stop_at)
            except httpx.TransportError as error:
                raise ModelError(self._explain_transport(error, answering=True)) from None
            finally:
                await response.aclose()  # after a stop found here, this is what stops the server
        ended = time.perf_counter()
        if answer.finish_reason is None:
            if answer.done:
                raise ModelError(
                    f"{self._where()} cut an answer short without saying why. llama-cpp-python's server "
                    "does this when another request arrives: start it with --interrupt_requests False, "
                    "or set parallel to 1"
                )
            raise ModelError(self._explain_transport(httpx.RemoteProtocolError("stream ended"), answering=True))
        return self._completion(request, answer, started, ended, new_turn)

    def _completion(self, request: ChatRequest, answer: _Answer, started: float, ended: float, new_turn: bool) -> Completion:
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
            finish_reason=answer.finish_reason,
        )


class _Answer:
    """What a chat completion said: text, finish reason, and the server's counts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pieces = 0  # streamed pieces of text, about one per token
        self.first_token_at: float | None = None
        self.finish_reason: str | None = None
        self.usage: dict | None = None
        self.timings: dict | None = None  # llama-server's: prompt_n (evaluated), cache_n (reused)
        self.done = False  # the stream ended with [DONE]

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _take(self, data: dict, where: str, key: str) -> None:
        if data.get("error") or data.get("object") == "error":
            raise ModelError(f"{where} reported an error: {_error_detail(json.dumps(data).encode())}")
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
    def from_json(cls, raw: bytes) -> _Answer:
        answer = cls()
        try:
            answer._take(json.loads(raw), "the model server", "message")
        except (ValueError, AttributeError):
            raise ModelError(f"the model server sent an answer that is not a chat completion: {raw[:120]!r}") from None
        answer.done = True
        return answer

    @classmethod
    async def from_stream(cls, response: httpx.Response, where: str, stop_at: Callable[[str], int | None] | None) -> _Answer:
        """Read server-sent events (`data: {chunk}` lines, then `data: [DONE]`), stopping early where `stop_at` says."""
        answer = cls()
        async for line in response.aiter_lines():
            if line.startswith("error:"):  # llama-server's way to fail mid-stream
                raise ModelError(f"{where} reported an error: {_error_detail(line[6:].strip().encode())}")
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
