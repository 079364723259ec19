"""Where the remote backend's server is: the endpoint URL as users give it, made canonical.

Kept free of httpx so that the settings can check an endpoint without loading it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from .base import ModelError


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


def display_name(model: str | None) -> str:
    """llama-cpp-python's server names a model by its file path: show the file's stem."""
    if not model:
        return "remote"
    return PurePosixPath(model).stem if model.endswith(".gguf") else model
