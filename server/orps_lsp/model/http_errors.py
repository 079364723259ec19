"""The remote backend's failures in words: one sentence that says what went wrong and what to try.

A status, a network error or an error body becomes the message of the
ModelError the user reads, so each names the server and the likely fix.
"""

from __future__ import annotations

import json

import httpx


def where(endpoint: str) -> str:
    return f"the model server at {endpoint}"


def error_detail(body: bytes) -> str:
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


def explain_status(
    endpoint: str, status: int, body: bytes, asking: str, *, api_key_set: bool, model: str | None, retries: int
) -> str:
    """An HTTP error status; `asking` is what was asked ("chat", "models"), `model` the model named in it."""
    server = where(endpoint)
    detail = error_detail(body)
    said = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        if not api_key_set:
            return f"{server} requires an API key ({said}); give it with --api-key, ORPS_API_KEY or the apiKey setting"
        return f"{server} rejected the API key ({said}); check --api-key, ORPS_API_KEY or the apiKey setting"
    if status == 404 and asking == "chat" and model:
        return f"{server} has no model named '{model}' ({said}); list its models at {endpoint}/models"
    if status == 404:
        return (
            f"{server} has no OpenAI API at this path ({said}); the endpoint is the API base, for example http://gpu-box:8080/v1"
        )
    if status == 429:
        return f"{server} is busy ({said}, {retries + 1} tries); lower the parallel setting or try again later"
    if status in (502, 503, 504):
        return f"{server} is unavailable ({said}, {retries + 1} tries); is it still loading the model, or restarting?"
    if 400 <= status < 500:
        return f"{server} refused the request ({said})"
    return f"{server} failed ({said})"


def explain_transport(
    endpoint: str, error: httpx.TransportError, *, answering: bool, timeout: float, connect_timeout: float
) -> str:
    """A network failure: before the answer started (`answering` False) or in the middle of it."""
    server = where(endpoint)
    if isinstance(error, httpx.ConnectTimeout):
        return f"cannot reach {server}: no connection within {connect_timeout:g} s (wrong host, or a firewall?)"
    if isinstance(error, httpx.ConnectError):
        return f"cannot reach {server}: {error or 'connection failed'} (is it running? are host and port right?)"
    if isinstance(error, httpx.TimeoutException):
        return (
            f"{server} sent nothing for {timeout:g} s (overloaded or stuck?); "
            "fewer parallel requests or a longer timeout may help"
        )
    if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        when = "in the middle of an answer" if answering else "before answering"
        return f"{server} closed the connection {when} (did it stop or crash?)"
    return f"{server}: {type(error).__name__}: {error}"
