"""The server's settings: one typed, defaulted dataclass read from the editor.

Settings arrive as `initializationOptions` and as the `orps` section of
`workspace/configuration` (camelCase keys, any JSON the user typed). An
invalid value never stops the server: it is reported and its default used.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from ..config import SearchConfig
from ..executor import OracleOptions, SandboxLimits
from ..model.loader import REMOTE_PARALLEL

SECTION = "orps"
LOG_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}

_SEARCH = SearchConfig()
_LIMITS = SandboxLimits()
_ORACLE = OracleOptions()


@dataclass(frozen=True)
class Settings:
    # The model: a .gguf path or an embedded model name; None: $ORPS_MODEL, else the default embedded model.
    model: str | None = None
    gpu_layers: int | None = None  # None: all layers when the llama.cpp build can offload, else 0
    context_size: int = 8192
    threads: int | None = None  # None: all cores
    # A remote OpenAI-compatible server instead of the local model.
    endpoint: str | None = None  # None: $ORPS_ENDPOINT, else the local model
    # None: $ORPS_API_KEY. Never shown: repr and to_editor_dict (logs, orps.debugInfo) hide it.
    api_key: str | None = field(default=None, repr=False)
    remote_model: str | None = None  # None: the server's default model
    parallel: int = REMOTE_PARALLEL  # candidates generated together (server requests, or one local batch)
    # The search (SearchConfig).
    beam_width: int = _SEARCH.beam_width
    expansions: int = _SEARCH.expansions
    depth: int = _SEARCH.depth
    alpha: float = _SEARCH.alpha
    beta: float = _SEARCH.beta
    max_llm_calls: int = _SEARCH.max_llm_calls
    max_generated_tokens: int = _SEARCH.max_generated_tokens
    max_seconds: float = _SEARCH.max_seconds
    # The tests (SandboxLimits and discovery).
    test_paths: tuple[str, ...] = ()  # empty: discover
    pytest_args: tuple[str, ...] = ()
    test_timeout: float = _LIMITS.per_test_timeout
    run_timeout: float = _LIMITS.total_timeout
    # The original is the oracle (OracleOptions).
    generated_inputs: int = _ORACLE.generated_inputs
    compare_exception_messages: bool = _ORACLE.compare_exception_messages
    crosshair_seconds: float = _ORACLE.crosshair_seconds
    log_level: str = "info"

    def search_config(self) -> SearchConfig:
        return SearchConfig(
            beam_width=self.beam_width, expansions=self.expansions, depth=self.depth,
            alpha=self.alpha, beta=self.beta, max_llm_calls=self.max_llm_calls,
            max_generated_tokens=self.max_generated_tokens, max_seconds=self.max_seconds,
        )

    def sandbox_limits(self) -> SandboxLimits:
        return SandboxLimits(per_test_timeout=self.test_timeout, total_timeout=self.run_timeout)

    def oracle_options(self) -> OracleOptions:
        return OracleOptions(generated_inputs=self.generated_inputs,
                             compare_exception_messages=self.compare_exception_messages,
                             crosshair_seconds=self.crosshair_seconds)

    def model_key(self) -> tuple:
        """What the loaded model depends on: a change means a reload."""
        return (self.model, self.gpu_layers, self.context_size, self.threads, self.endpoint, self.api_key, self.remote_model,
                self.parallel)

    @property
    def logging_level(self) -> int:
        return LOG_LEVELS[self.log_level]

    def to_editor_dict(self) -> dict[str, Any]:
        """The settings as the editor spells them (camelCase), for orps.debugInfo and logs; secrets hidden."""
        return {camel_case(f.name): _shown(f.name, getattr(self, f.name)) for f in fields(self)}


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


SECRETS = frozenset({"api_key"})  # never written to logs, messages or orps.debugInfo
HIDDEN = "(set, hidden)"


def _shown(name: str, value: Any) -> Any:
    if name in SECRETS and value is not None:
        return HIDDEN
    return _plain(value)


# ------------------------------------------------------------------ checking
Check = Callable[[Any], Any]  # returns the converted value or raises ValueError with the reason


def _integer(minimum: int, optional: bool = False) -> Check:
    def check(value: Any) -> int | None:
        if value is None and optional:
            return None
        # bool is an int in Python, never in a settings file
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer{' or null' if optional else ''}")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return check


def _number(minimum: float, *, inclusive: bool) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("expected a number")
        if value < minimum or (value == minimum and not inclusive):
            raise ValueError(f"must be {'at least' if inclusive else 'greater than'} {minimum:g}")
        return float(value)

    return check


def _optional_text(what: str) -> Check:
    def check(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ValueError(f"expected a string ({what}) or null")
        return value

    return check


def _url(value: Any) -> str | None:
    url = _optional_text("a URL")(value)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return url


def _text_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # a single path typed without brackets
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("expected a list of strings")
    return tuple(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _log_level(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return value.lower()


CHECKS: dict[str, Check] = {
    "model": _optional_text("a .gguf path or an embedded model name"),
    "gpu_layers": _integer(-1, optional=True),
    "context_size": _integer(512),
    "threads": _integer(1, optional=True),
    "endpoint": _url,
    "api_key": _optional_text("the server's API key"),
    "remote_model": _optional_text("a model name on the server"),
    "parallel": _integer(1),
    "beam_width": _integer(1),
    "expansions": _integer(1),
    "depth": _integer(1),
    "alpha": _number(0, inclusive=True),
    "beta": _number(0, inclusive=True),
    "max_llm_calls": _integer(1),
    "max_generated_tokens": _integer(1),
    "max_seconds": _number(0, inclusive=False),
    "test_paths": _text_list,
    "pytest_args": _text_list,
    "test_timeout": _number(0, inclusive=False),
    "run_timeout": _number(0, inclusive=False),
    "generated_inputs": _integer(0),
    "compare_exception_messages": _boolean,
    "crosshair_seconds": _number(0, inclusive=True),
    "log_level": _log_level,
}
_BY_EDITOR_NAME = {camel_case(f.name): f.name for f in fields(Settings)}
_SNAKE = re.compile(r"^[a-z]+(_[a-z]+)+$")
# Keys editors put in the section for themselves (vscode-languageclient: orps.trace.server).
_EDITOR_KEYS = {"trace"}


def parse_settings(raw: Any) -> tuple[Settings, list[str]]:
    """Editor settings -> (Settings, problems). A bad value keeps its default."""
    if raw is None:
        return Settings(), []
    if not isinstance(raw, dict):
        return Settings(), [f"the '{SECTION}' settings must be an object, got {type(raw).__name__}"]
    values: dict[str, Any] = {}
    problems = []
    for key, value in raw.items():
        name = _BY_EDITOR_NAME.get(key) or (key if _SNAKE.match(key) and key in CHECKS else None)
        if key in _EDITOR_KEYS:
            continue
        if name is None:
            problems.append(f"unknown setting {SECTION}.{key} (ignored)")
            continue
        try:
            values[name] = CHECKS[name](value)
        except ValueError as exc:
            default = _plain(getattr(Settings(), name))
            shown = "(hidden)" if name in SECRETS else repr(value)
            problems.append(f"invalid setting {SECTION}.{camel_case(name)} = {shown}: {exc}; using {default!r}")
    settings = Settings(**values)
    if settings.alpha + settings.beta <= 0:
        problems.append(f"{SECTION}.alpha + {SECTION}.beta must be positive; using {_SEARCH.alpha} and {_SEARCH.beta}")
        settings = dataclasses.replace(settings, alpha=_SEARCH.alpha, beta=_SEARCH.beta)
    return settings, problems


def merge(*layers: Any) -> dict[str, Any]:
    """Later layers win, key by key (initializationOptions, then workspace/configuration)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if isinstance(layer, dict):
            merged.update(layer)
    return merged


__all__ = ["Settings", "parse_settings", "merge", "camel_case", "SECTION", "LOG_LEVELS"]
