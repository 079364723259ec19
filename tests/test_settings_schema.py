"""One definition per setting (settings_schema.py) and per message contract (contract.py): the
CLI, the language server, the search's, sandbox's and oracle's defaults, the VS Code
contributions, the extension's constants and the docs all follow them (codegen.py)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from orps_lsp import codegen
from orps_lsp import settings_schema as schema
from orps_lsp.cli import build_parser, config_from
from orps_lsp.config import SearchConfig
from orps_lsp.engine import InputError
from orps_lsp.executor import OracleOptions, SandboxLimits
from orps_lsp.lsp.settings import Settings, parse_settings

READERS = {schema.SEARCH: SearchConfig(), schema.LIMITS: SandboxLimits(), schema.ORACLE: OracleOptions()}


def test_the_generated_files_follow_the_code():
    """package.json's contributions, settingsKeys.ts, contract.ts and docs/settings.md: `python -m
    orps_lsp.codegen` writes them; a hand edit (or a new setting not written out) fails here."""
    assert codegen.drifted() == [], "run `python -m orps_lsp.codegen` and commit what it writes"


def test_a_drifted_file_is_found(tmp_path):
    for path in (*codegen.GENERATED, codegen.MANIFEST):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((codegen.ROOT / path).read_text())
    assert codegen.drifted(tmp_path) == []
    manifest = json.loads((tmp_path / "client-vscode/package.json").read_text())
    manifest["contributes"]["configuration"]["properties"]["orps.depth"]["default"] = 4
    (tmp_path / "client-vscode/package.json").write_text(json.dumps(manifest))
    (tmp_path / "docs/settings.md").write_text("# Settings\n")
    assert codegen.drifted(tmp_path) == ["docs/settings.md", "client-vscode/package.json"]
    assert sorted(codegen.write(tmp_path)) == ["client-vscode/package.json", "docs/settings.md"]
    assert codegen.drifted(tmp_path) == []


@pytest.mark.parametrize("setting", [s for s in schema.SETTINGS if s.reader in READERS], ids=lambda s: s.name)
def test_each_reader_takes_its_default_from_the_schema(setting):
    assert getattr(READERS[setting.reader], setting.target) == setting.default


def test_the_server_settings_are_the_schemas():
    names = [f.name for f in dataclasses.fields(Settings)]
    assert names == [s.name for s in schema.SERVER_SETTINGS]
    defaults = Settings()
    assert all(getattr(defaults, s.name) == s.default for s in schema.SERVER_SETTINGS)
    # What the server hands the search, the sandbox and the oracle is what the editor set.
    chosen = Settings(depth=5, memory_mb=4096, crosshair_seconds=0.0, scaling="refuse", test_timeout=3.0)
    assert (chosen.search_config().depth, chosen.search_config().scaling) == (5, "refuse")
    assert (chosen.sandbox_limits().memory_mb, chosen.sandbox_limits().per_test_timeout) == (4096, 3.0)
    assert chosen.oracle_options().crosshair_seconds == 0.0


def _value(setting: schema.Setting):
    """A valid value other than the default."""
    if setting.choices:
        return next(c for c in setting.choices if c != setting.default)
    low = setting.minimum or 0
    return {
        "integer": int(low) + 7,
        "number": low + 7.5,
        "boolean": not setting.default,
        "string": "x",
        "url": "http://h:1/v1",
        "strings": ("a", "b"),
    }[setting.kind]


@pytest.mark.parametrize("setting", [s for s in schema.SETTINGS if s.cli], ids=lambda s: s.name)
def test_each_setting_has_one_flag_and_one_editor_key_that_read_the_same(setting):
    value = _value(setting)
    if setting.kind == "boolean":
        argv = [setting.flag if value else f"--no-{setting.flag[2:]}"]
    elif setting.kind == "strings":
        argv = [f"{setting.flag}={item}" for item in value]
    else:
        argv = [setting.flag, str(value)]
    args = build_parser().parse_args(["optimize", "m.py::f", *argv])
    parsed = getattr(args, setting.name)
    assert (tuple(parsed) if setting.kind == "strings" else parsed) == value
    settings, problems = parse_settings({setting.key: list(value) if isinstance(value, tuple) else value})
    assert not problems and getattr(settings, setting.name) == value


@pytest.mark.parametrize("setting", [s for s in schema.SETTINGS if s.minimum is not None], ids=lambda s: s.name)
def test_a_value_out_of_bounds_is_one_message_on_both_sides(setting):
    below = setting.minimum - 1 if not setting.exclusive_minimum else setting.minimum
    below = int(below) if setting.kind == "integer" else float(below)
    _, problems = parse_settings({setting.key: below})
    assert len(problems) == 1 and f"orps.{setting.key}" in problems[0] and "using" in problems[0], problems
    if setting.cli:
        args = build_parser().parse_args(["optimize", "m.py::f", setting.flag, str(below)])
        with pytest.raises(InputError, match=setting.name):
            config_from(args)


def test_older_flags_still_work_and_say_what_replaced_them(example_project):
    old = build_parser().parse_args(
        [
            "optimize",
            "m.py::f",
            "--max-calls",
            "5",
            "--ctx",
            "1024",
            "--no-critic",
            "--counter",
            "none",
            "--tests",
            "a",
            "--pytest-arg=-q",
            "--max-tokens",
            "9",
        ]
    )
    new = build_parser().parse_args(
        [
            "optimize",
            "m.py::f",
            "--max-llm-calls",
            "5",
            "--context-size",
            "1024",
            "--no-use-critic",
            "--instruction-counter",
            "none",
            "--test-paths",
            "a",
            "--pytest-args=-q",
            "--max-generated-tokens",
            "9",
        ]
    )
    assert {k: v for k, v in vars(old).items() if k != "deprecated"} == vars(new)
    assert len(old.deprecated) == 7 and "--max-calls is now --max-llm-calls" in old.deprecated
    run = subprocess.run(
        [sys.executable, "-m", "orps_lsp.cli", "optimize", "slowmath.py::has_duplicates", "--max-calls", "0"],
        cwd=example_project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and run.stderr.splitlines() == [
        "orps-lsp: --max-calls is now --max-llm-calls; the old spelling will go",
        "orps-lsp: error: max_llm_calls must be at least 1",
    ], run.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "orps_lsp.cli", "optimize", "slowmath.py::has_duplicates", "--max-calls", "many"],
        cwd=example_project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "argument --max-calls: invalid integer value: 'many'" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_cli_keeps_values_as_the_checks_read_them():
    """What the search receives is the checked value: an old flag's choice in capitals reads as the
    choice (not as an unknown one, which the search would take for the default), and NaN is no number."""
    config = config_from(build_parser().parse_args(["optimize", "m.py::f", "--counter", "VALGRIND"]))
    assert config.instruction_counter == "valgrind"
    for flag in ("--benchmark-seconds", "--crosshair-seconds", "--alpha"):
        with pytest.raises(InputError, match="expected a number"):
            config_from(build_parser().parse_args(["optimize", "m.py::f", flag, "nan"]))
