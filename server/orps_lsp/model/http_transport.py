"""The remote backend's HTTP transport: one client, its timeouts and slots, and retries of busy answers.

Every request to the server goes through `Transport.send`, which retries
429/502/503/504 (busy or restarting servers, and proxies in front of them) and
turns every other failure into a ModelError in words (model/http_errors.py).
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx

from .base import ModelError
from .http_errors import explain_status, explain_transport, where

# Busy or (re)starting servers and proxies in front of them: worth another try.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_DELAY = 10.0
CONNECT_TIMEOUT = 10.0


class Transport:
    """Requests to one OpenAI-compatible API base, on the loop that runs them.

    `timeout`: the longest silence accepted from the server (connecting, the
    first token, each next token). `max_parallel`: the slots, requests in
    flight at once. `retries`: extra tries on 429/502/503/504.
    """

    def __init__(self, endpoint: str, *, api_key: str | None, timeout: float, max_parallel: int, retries: int) -> None:
        self.endpoint = endpoint
        self.api_key = api_key
        self.timeout = timeout
        self.max_parallel = max_parallel
        self.retries = retries
        self.connect_timeout = min(timeout, CONNECT_TIMEOUT)
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None

    @property
    def where(self) -> str:
        return where(self.endpoint)

    def _open(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """The client and its slots, made on the loop that uses them."""
        if self._client is None or self._slots is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout, pool=None),
                limits=httpx.Limits(max_connections=self.max_parallel + 1),
            )
            self._slots = asyncio.Semaphore(self.max_parallel)
        return self._client, self._slots

    def slots(self) -> asyncio.Semaphore:
        """Held around a request and the reading of its answer: at most `max_parallel` in flight."""
        return self._open()[1]

    def explain_transport(self, error: httpx.TransportError, *, answering: bool) -> str:
        return explain_transport(
            self.endpoint, error, answering=answering, timeout=self.timeout, connect_timeout=self.connect_timeout
        )

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        """The server's Retry-After when it gives one, else exponential back-off with jitter."""
        try:
            delay = float(response.headers.get("retry-after", ""))
        except ValueError:
            delay = 0.5 * 2**attempt * (1 + random.random() / 2)
        return min(max(delay, 0.0), MAX_RETRY_DELAY)

    async def send(self, method: str, path: str, body: dict[str, Any] | None, asking: str) -> httpx.Response:
        """An open response with a 2xx status (the caller closes it); busy answers are retried."""
        client, _ = self._open()
        url = f"{self.endpoint}/{path}"
        for attempt in range(self.retries + 1):
            try:
                response = await client.send(client.build_request(method, url, json=body), stream=True)
            except httpx.TransportError as error:
                raise ModelError(self.explain_transport(error, answering=False)) from None
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
            model = body.get("model") if body else None  # the model the request named, for a 404's message
            raise ModelError(
                explain_status(
                    self.endpoint,
                    response.status_code,
                    content,
                    asking,
                    api_key_set=bool(self.api_key),
                    model=model,
                    retries=self.retries,
                )
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_json(self, method: str, path: str, body: dict[str, Any] | None, asking: str) -> tuple[Any, bytes]:
        """The answer's JSON (None when it is not JSON) and its raw bytes."""
        response = await self.send(method, path, body, asking)
        try:
            raw = await response.aread()
        except httpx.TransportError as error:
            raise ModelError(self.explain_transport(error, answering=True)) from None
        finally:
            await response.aclose()
        try:
            return json.loads(raw), raw
        except ValueError:
            return None, raw

    async def shutdown(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        await asyncio.get_running_loop().shutdown_asyncgens()
