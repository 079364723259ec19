"""The server's settings: one typed, defaulted dataclass read from the editor.

Settings arrive as `initializationOptions` and as the `orps` section of
`workspace/configuration` (camelCase keys, any JSON the user typed). An
invalid value never stops the server: it is reported and its default used.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import fields
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import SearchConfig
from ..executor import OracleOptions, SandboxLimits
from ..settings_schema import LIMITS, MODEL, ORACLE, SEARCH, SERVER_SETTINGS, Setting, camel_case, read_by, values_for

SECTION = "orps"
LOG_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}

_SEARCH = SearchConfig()
_TYPES = {"integer": int, "number": float, "boolean": bool, "string": str, "url": str, "strings": tuple[str, ...], "choice": str}


class _Methods:
    """What the settings answer besides their values (Settings below is made from the schema)."""

    # Settings is a dataclass made at runtime: this tells the type checker so, for
    # dataclasses.fields and dataclasses.replace (only an annotation: no attribute is made).
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def search_config(self) -> SearchConfig:
        return SearchConfig(**values_for(self, SEARCH))

    def sandbox_limits(self) -> SandboxLimits:
        return SandboxLimits(**values_for(self, LIMITS))

    def oracle_options(self) -> OracleOptions:
        return OracleOptions(seed=getattr(self, "seed"), **values_for(self, ORACLE))

    def model_key(self) -> tuple[Any, ...]:
        """What the loaded model depends on: a change means a reload."""
        return tuple(getattr(self, s.name) for s in read_by(MODEL))

    @property
    def logging_level(self) -> int:
        return LOG_LEVELS[getattr(self, "log_level")]

    def to_editor_dict(self) -> dict[str, Any]:
        """The settings as the editor spells them (camelCase), for orps.debugInfo and logs; secrets hidden."""
        return {camel_case(f.name): _shown(f.name, getattr(self, f.name)) for f in fields(self)}


def _field(setting: Setting) -> tuple[str, Any, Any]:
    kind = _TYPES[setting.kind]
    return (
        setting.name,
        kind | None if setting.nullable else kind,
        dataclasses.field(default=setting.default, repr=not setting.secret),
    )


if TYPE_CHECKING:
    # What the type checker sees of Settings. The real class is made from the schema below, so
    # that each setting is defined once (settings_schema.py); mypy cannot follow make_dataclass,
    # so here it gets the methods, keyword construction, and any schema field as Any. Spelling
    # the fields out again here would be the second definition the schema exists to avoid.
    class Settings(_Methods):
        def __init__(self, **values: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

else:
    # One typed, frozen, defaulted dataclass: a field per server setting of the schema.
    Settings = dataclasses.make_dataclass("Settings", [_field(s) for s in SERVER_SETTINGS], bases=(_Methods,), frozen=True)
    Settings.__module__ = __name__


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


SECRETS = frozenset(s.name for s in SERVER_SETTINGS if s.secret)  # never written to logs, messages or orps.debugInfo
HIDDEN = "(set, hidden)"


def _shown(name: str, value: Any) -> Any:
    if name in SECRETS and value is not None:
        return HIDDEN
    return _plain(value)


_BY_EDITOR_NAME = {s.key: s for s in SERVER_SETTINGS}
_BY_NAME = {s.name: s for s in SERVER_SETTINGS}
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
        setting = _BY_EDITOR_NAME.get(key) or (_BY_NAME.get(key) if _SNAKE.match(key) else None)
        if key in _EDITOR_KEYS:
            continue
        if setting is None:
            problems.append(f"unknown setting {SECTION}.{key} (ignored)")
            continue
        try:
            values[setting.name] = setting.check(value)
        except ValueError as exc:
            shown = "(hidden)" if setting.secret else repr(value)
            problems.append(f"invalid setting {SECTION}.{setting.key} = {shown}: {exc}; using {_plain(setting.default)!r}")
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
