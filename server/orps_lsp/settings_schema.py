"""Every setting, defined once: its type, default, bounds, description and where it is read.

From this list come the CLI's flags (cli.py), the language server's typed settings and their
checks (lsp/settings.py), the search's, the sandbox's and the oracle's defaults (config.py,
executor.py), the VS Code extension's `package.json` contributions and `settingsKeys.ts`,
and the settings page of the docs. `python -m orps_lsp.codegen` writes the generated
files; tests/test_settings_schema.py fails when one of them drifts.

One spelling per setting: `max_llm_calls` here and in Python, `--max-llm-calls` on the
command line, `maxLlmCalls` in an editor. Older spellings stay accepted with a message
(`deprecated_flags`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# What reads a setting: the search (config.SearchConfig), the choice of tests (engine.SearchRequest),
# the sandbox (executor.SandboxLimits), the oracle (executor.OracleOptions), the model loader,
# the server itself, or only the VS Code extension.
SEARCH, TESTS, LIMITS, ORACLE, MODEL, SERVER, CLIENT = "search", "tests", "limits", "oracle", "model", "server", "client"
KINDS = ("integer", "number", "boolean", "string", "url", "strings", "choice")
LOG_LEVELS = ("error", "warning", "info", "debug")


@dataclass(frozen=True)
class Setting:
    name: str  # snake_case: the one spelling (--kebab-case on the command line, camelCase in an editor)
    kind: str  # one of KINDS
    default: Any
    description: str  # Markdown, one or two sentences: the editor's, the docs' and (backticks dropped) the CLI's help
    reader: str  # SEARCH, TESTS, LIMITS, ORACLE, MODEL, SERVER or CLIENT
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # the minimum itself is not allowed
    nullable: bool = False  # None: not set (an environment variable or an automatic choice decides)
    choices: tuple[str, ...] = ()
    field: str = ""  # the reader's field when it differs from `name`
    short_flags: tuple[str, ...] = ()  # e.g. -K
    deprecated_flags: tuple[str, ...] = ()  # older CLI spellings, still accepted with a message
    cli: bool = True  # a flag of `orps-lsp optimize/solve`
    editor: bool = True  # a key of the editor's `orps` section
    editor_key: str = ""  # when not the camelCase of `name` (VS Code's own keys: codeLens.enabled)
    vscode_scope: str = ""  # VS Code's scope of the setting ("" : window)
    secret: bool = False  # never logged, never shown

    @property
    def key(self) -> str:
        """The editor's key (camelCase)."""
        return self.editor_key or camel_case(self.name)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def target(self) -> str:
        """The reader's field."""
        return self.field or self.name

    def check(self, value: Any) -> Any:
        """The value converted to its Python type, or ValueError saying why not."""
        if value is None and self.nullable:
            return None
        checked = _CHECKS[self.kind](self, value)
        if isinstance(checked, (int, float)) and not isinstance(checked, bool):
            if self.minimum is not None and (checked < self.minimum or (self.exclusive_minimum and checked == self.minimum)):
                raise ValueError(f"must be {'greater than' if self.exclusive_minimum else 'at least'} {self.minimum:g}")
            if self.maximum is not None and checked > self.maximum:
                raise ValueError(f"must be at most {self.maximum:g}")
        return checked


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _integer(setting: Setting, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # bool is an int in Python, never in a settings file
        raise ValueError(f"expected an integer{' or null' if setting.nullable else ''}")
    return value


def _number(setting: Setting, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a number{' or null' if setting.nullable else ''}")
    return float(value)


def _boolean(setting: Setting, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _string(setting: Setting, value: Any) -> str | None:
    if value == "" and setting.nullable:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string{' or null' if setting.nullable else ''}")
    return value


def _url(setting: Setting, value: Any) -> str | None:
    """An endpoint the HTTP backend takes: its own rule (`gpu-box:8080` is http://gpu-box:8080/v1)."""
    url = _string(setting, value)
    if url is not None:
        from .model.base import ModelError
        from .model.http import normalize_endpoint  # here: httpx loads only when an endpoint is given

        try:
            normalize_endpoint(url)
        except ModelError as exc:
            raise ValueError(str(exc).removeprefix("the endpoint ")) from None
    return url


def _strings(setting: Setting, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # a single path typed without brackets
        return (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ValueError("expected a list of strings")
    return tuple(value)


def _choice(setting: Setting, value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in setting.choices:
        raise ValueError(f"expected one of {', '.join(setting.choices)}")
    return value.lower()


_CHECKS = {
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "string": _string,
    "url": _url,
    "strings": _strings,
    "choice": _choice,
}

SETTINGS: tuple[Setting, ...] = (
    # -- the model
    Setting(
        "model",
        "string",
        None,
        "The model: a `.gguf` path or an embedded model name (`qwen2.5-coder-0.5b`, "
        "`qwen2.5-coder-1.5b`). Empty: `$ORPS_MODEL`, else the default embedded model.",
        MODEL,
        nullable=True,
        vscode_scope="machine-overridable",
    ),
    Setting(
        "gpu_layers",
        "integer",
        None,
        "Model layers offloaded to the GPU (`-1`: all). Empty: all layers when the llama.cpp build can offload, else 0.",
        MODEL,
        minimum=-1,
        nullable=True,
    ),
    Setting(
        "context_size", "integer", 8192, "The model's context window in tokens.", MODEL, minimum=512, deprecated_flags=("--ctx",)
    ),
    Setting("threads", "integer", None, "CPU threads for the model. Empty: all cores.", MODEL, minimum=1, nullable=True),
    Setting(
        "endpoint",
        "url",
        None,
        "A remote OpenAI-compatible server (`http://host:8000/v1`: llama-server, vLLM, "
        "Ollama) instead of the local model. Empty: `$ORPS_ENDPOINT`, else the local model. Checked when the "
        "server starts and when this setting changes.",
        MODEL,
        nullable=True,
        vscode_scope="machine-overridable",
    ),
    Setting(
        "api_key",
        "string",
        None,
        "The remote server's API key (sent as `Authorization: Bearer`). Empty: "
        "`$ORPS_API_KEY`, which keeps it out of settings files and `ps` altogether. In VS Code a user setting "
        "only (never synced or read from a workspace); never logged, shown as hidden in the debug info.",
        MODEL,
        nullable=True,
        vscode_scope="machine",
        secret=True,
    ),
    Setting(
        "remote_model",
        "string",
        None,
        "The model name on the remote server. Empty: the server's default model.",
        MODEL,
        nullable=True,
    ),
    Setting(
        "parallel",
        "integer",
        4,
        "Candidates of a node generated together: requests in flight on the remote "
        "server (match its slots), or sequences decoded in one llama.cpp batch for a local model (1: one by one).",
        MODEL,
        minimum=1,
    ),
    # -- the search
    Setting(
        "beam_width",
        "integer",
        2,
        "K: candidates kept per round of the beam search (the paper: 3).",
        SEARCH,
        minimum=1,
        short_flags=("-K",),
    ),
    Setting(
        "expansions",
        "integer",
        3,
        "N: candidates generated from each kept one, and in the first round (the paper: 20).",
        SEARCH,
        minimum=1,
        short_flags=("-N",),
    ),
    Setting(
        "depth",
        "integer",
        3,
        "D: rounds of the search, the first included (the paper: 5).",
        SEARCH,
        minimum=1,
        short_flags=("-D",),
    ),
    Setting("alpha", "number", 0.5, "Weight of the critic's score in a candidate's step score.", SEARCH, minimum=0),
    Setting(
        "beta",
        "number",
        0.5,
        "Weight of the tests and the profile (the outcome score) in a candidate's step score.",
        SEARCH,
        minimum=0,
    ),
    Setting(
        "max_llm_calls",
        "integer",
        30,
        "Budget: the most model calls one search makes.",
        SEARCH,
        minimum=1,
        deprecated_flags=("--max-calls",),
    ),
    Setting(
        "max_generated_tokens",
        "integer",
        20000,
        "Budget: the most tokens one search generates.",
        SEARCH,
        minimum=1,
        deprecated_flags=("--max-tokens",),
    ),
    Setting(
        "max_seconds", "number", 300.0, "Budget: the most seconds one search runs.", SEARCH, minimum=0, exclusive_minimum=True
    ),
    Setting(
        "seed", "integer", 0, "Seed of the model's sampling and of the generated inputs: the same seed, the same search.", SEARCH
    ),
    Setting("temperature", "number", 0.7, "The programmer's sampling temperature (the critic's is lower).", SEARCH, minimum=0),
    Setting(
        "use_critic",
        "boolean",
        True,
        "Ask the model, as critic, to score each candidate (off: the tests and the profile alone score them; an ablation).",
        SEARCH,
        deprecated_flags=("--no-critic",),
    ),
    Setting(
        "instruction_counter",
        "choice",
        "auto",
        "`auto`: a close per-call figure is settled by the instructions "
        "of the function alone (perf or valgrind, if installed); `valgrind`: whole test runs are counted too; "
        "`none`: never.",
        SEARCH,
        choices=("auto", "valgrind", "none"),
        deprecated_flags=("--counter",),
    ),
    Setting(
        "benchmark_seconds",
        "number",
        3.0,
        "Seconds each finalist's function is timed beside the original's, on the captured calls.",
        SEARCH,
        minimum=0,
        exclusive_minimum=True,
        maximum=120,
    ),
    Setting(
        "scaling",
        "choice",
        "warn",
        "A finalist faster on the tests' inputs but slower on larger ones: `warn` "
        "(offered, said), `refuse` (not offered) or `off` (not measured).",
        SEARCH,
        choices=("warn", "refuse", "off"),
    ),
    # -- the tests
    Setting(
        "test_paths",
        "strings",
        (),
        "Test files or folders to run against each candidate. Empty: discovered (the tests that import the function's module).",
        TESTS,
        deprecated_flags=("--tests",),
    ),
    Setting(
        "pytest_args",
        "strings",
        (),
        "Extra pytest arguments for every test run, e.g. `-k fast`.",
        TESTS,
        deprecated_flags=("--pytest-arg",),
    ),
    Setting(
        "test_timeout",
        "number",
        10.0,
        "Seconds one test may run.",
        LIMITS,
        minimum=0,
        exclusive_minimum=True,
        field="per_test_timeout",
    ),
    Setting(
        "run_timeout",
        "number",
        60.0,
        "Seconds one candidate's test run may take.",
        LIMITS,
        minimum=0,
        exclusive_minimum=True,
        field="total_timeout",
    ),
    Setting("memory_mb", "integer", 2048, "Memory limit of a test run in MB.", LIMITS, minimum=64),
    # -- the original is the oracle (optimize)
    Setting(
        "generated_inputs",
        "integer",
        100,
        "Optimize: inputs drawn with Hypothesis from the original's captured "
        "calls; every candidate must behave as the original does on them. `0`: none.",
        ORACLE,
        minimum=0,
    ),
    Setting(
        "compare_exception_messages",
        "boolean",
        False,
        "Optimize: a candidate's exceptions must match the original's in message too, not only in type.",
        ORACLE,
    ),
    Setting(
        "crosshair_seconds",
        "number",
        5.0,
        "Optimize, where CrossHair is installed (`pip install "
        "orps-lsp[crosshair]`): seconds it searches for an input on which the candidate about to be offered "
        "differs from the original. `0`: off.",
        ORACLE,
        minimum=0,
        maximum=600,
    ),
    # -- the server and the editor
    Setting(
        "log_level",
        "choice",
        "info",
        "How much the server writes to its log (VS Code: the ORPS output channel).",
        SERVER,
        choices=LOG_LEVELS,
        cli=False,
    ),
    Setting(
        "interpreter",
        "string",
        "",
        "Python interpreter that starts the language server (`python -m "
        "orps_lsp.cli --stdio`); it needs `pip install orps-lsp`. Empty: the interpreter selected in the Python "
        "extension, else `python3`. `${workspaceFolder}` and `~` are expanded.",
        CLIENT,
        cli=False,
        vscode_scope="machine-overridable",
    ),
    Setting(
        "auto_apply",
        "boolean",
        False,
        "Apply a verified improvement at once. Off: review it in a diff editor first and choose Apply or Discard.",
        CLIENT,
        cli=False,
    ),
    Setting(
        "code_lens_enabled",
        "boolean",
        True,
        "Show a code lens above searched functions (tests passed, speed-up); click it for the search report.",
        CLIENT,
        cli=False,
        editor_key="codeLens.enabled",
    ),
    Setting(
        "trace_server",
        "choice",
        "off",
        "Trace the LSP messages between VS Code and the server in the ORPS output channel.",
        CLIENT,
        cli=False,
        editor_key="trace.server",
        choices=("off", "messages", "verbose"),
    ),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
SERVER_SETTINGS = tuple(s for s in SETTINGS if s.reader != CLIENT)
CLIENT_SETTINGS = tuple(s for s in SETTINGS if s.reader == CLIENT)


def default(name: str) -> Any:
    """The setting's default (the readers' dataclasses take theirs from here)."""
    return BY_NAME[name].default


def read_by(reader: str) -> tuple[Setting, ...]:
    return tuple(s for s in SETTINGS if s.reader == reader)


def values_for(source: Any, reader: str) -> dict[str, Any]:
    """The reader's fields (`target`) from an object holding the settings by name (parsed
    arguments, the server's Settings)."""
    return {s.target: getattr(source, s.name) for s in read_by(reader)}


def invalid(values: dict[str, Any]) -> list[str]:
    """What is wrong with values given by setting name, one line per setting."""
    found = []
    for name, value in values.items():
        try:
            BY_NAME[name].check(value)
        except ValueError as exc:
            found.append(f"{name}{'' if str(exc).startswith('must') else ':'} {exc}")
    return found


def problems(values: Any, reader: str) -> list[str]:
    """What is wrong with a reader's values (a SearchConfig, SandboxLimits, ...), one line per setting."""
    return invalid({s.name: getattr(values, s.target) for s in read_by(reader)})


# -- generated files ---------------------------------------------------------------------------


def vscode_properties() -> dict[str, dict[str, Any]]:
    """`contributes.configuration.properties` of client-vscode/package.json."""
    properties = {}
    for order, setting in enumerate(
        sorted(SETTINGS, key=lambda s: (s.reader == CLIENT and s.name != "interpreter", s.name != "interpreter"))
    ):
        json_type = {
            "integer": "integer",
            "number": "number",
            "boolean": "boolean",
            "string": "string",
            "url": "string",
            "strings": "array",
            "choice": "string",
        }[setting.kind]
        entry: dict[str, Any] = {
            "type": [json_type, "null"] if setting.nullable else json_type,
            "default": list(setting.default) if isinstance(setting.default, tuple) else setting.default,
            "markdownDescription": setting.description,
            "order": order,
        }
        if setting.kind == "strings":
            entry["items"] = {"type": "string"}
        if setting.choices:
            entry["enum"] = list(setting.choices)
        if setting.minimum is not None:
            entry["exclusiveMinimum" if setting.exclusive_minimum else "minimum"] = setting.minimum
        if setting.maximum is not None:
            entry["maximum"] = setting.maximum
        if setting.vscode_scope:
            entry["scope"] = setting.vscode_scope
        properties[f"orps.{setting.key}"] = entry
    return properties


def typescript_keys() -> str:
    """client-vscode/src/settingsKeys.ts."""

    def listed(settings: Iterable[Setting]) -> str:
        return "".join(f"  '{s.key}',\n" for s in settings)

    return (
        "// Generated from server/orps_lsp/settings_schema.py by `python -m orps_lsp.codegen`: do not edit.\n\n"
        "/** The server's settings (camelCase), sent to it in initializationOptions and workspace/configuration. */\n"
        f"export const SERVER_KEYS = [\n{listed(SERVER_SETTINGS)}] as const;\n\n"
        "/** The extension's own settings: never sent to the server (it reports keys it does not know). */\n"
        f"export const CLIENT_KEYS = [\n{listed(CLIENT_SETTINGS)}] as const;\n"
    )


def _shown_default(setting: Setting) -> str:
    if setting.default is None:
        return "(not set)"
    if isinstance(setting.default, tuple):
        return "`[]`"
    return f"`{json.dumps(setting.default)}`"


def _shown_type(setting: Setting) -> str:
    text = {
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
        "string": "string",
        "url": "URL",
        "strings": "list of strings",
        "choice": " \\| ".join(f"`{c}`" for c in setting.choices),
    }[setting.kind]
    if setting.minimum is not None:
        text += f" {'>' if setting.exclusive_minimum else '>='} {setting.minimum:g}"
    if setting.maximum is not None:
        text += f", <= {setting.maximum:g}"
    return text + (" or null" if setting.nullable else "")


_READER_TITLES = {
    MODEL: "The model",
    SEARCH: "The search",
    TESTS: "The tests",
    LIMITS: "The sandbox's limits",
    ORACLE: "The original is the oracle (optimize)",
    SERVER: "The server",
    CLIENT: "VS Code only",
}


def settings_page() -> str:
    """docs/settings.md."""
    lines = [
        "<!-- Generated from server/orps_lsp/settings_schema.py by `python -m orps_lsp.codegen`: do not edit. -->",
        "",
        "# Settings",
        "",
        "Each setting has one name: `max_llm_calls` in Python, `--max-llm-calls` on the command line, "
        "`maxLlmCalls` in an editor's `orps` section (VS Code: `orps.maxLlmCalls`). An invalid value in an "
        "editor is reported and its default used; on the command line it is an error (exit code 2).",
        "",
    ]
    for reader, title in _READER_TITLES.items():
        lines += [f"## {title}", "", "| editor key | command line | type | default | |", "|---|---|---|---|---|"]
        for setting in read_by(reader):
            flags = ", ".join(f"`{f}`" for f in (*setting.short_flags, setting.flag)) if setting.cli else "-"
            old = "".join(f" (was `{f}`)" for f in setting.deprecated_flags) if setting.cli else ""
            lines.append(
                f"| `{setting.key}` | {flags}{old} | {_shown_type(setting)} | {_shown_default(setting)} | {setting.description} |"
            )
        lines.append("")
    return "\n".join(lines)


def cli_help(setting: Setting) -> str:
    """The description as plain text, with the default."""
    text = re.sub(r"`([^`]*)`", r"\1", setting.description)
    shown = (
        "not set"
        if setting.default is None
        else (", ".join(setting.default) or "none")
        if isinstance(setting.default, tuple)
        else setting.default
    )
    return f"{text} (default: {shown})".replace("%", "%%")
