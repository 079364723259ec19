"""`orps-lsp`: the language server (`--stdio`, `--tcp`) and the headless commands.

    orps-lsp optimize FILE::FUNC [--apply] [--json]
    orps-lsp solve    FILE::FUNC [--apply] [--json]

Exit codes: 0 improved, 1 searched but nothing better, 2 bad input, 3 partial solution (some tests
still fail; --apply writes it only with --allow-partial), 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from . import __version__, engine
from .cancel import Cancelled, CancelToken
from .config import SearchConfig
from .executor import OracleOptions, SandboxLimits
from .files import replace_file
from .model.base import ModelError
from .model.loader import load_configured
from .regression import with_test_appended
from .render import text_report
from .report_html import write_html
from .search import Progress
from .settings_schema import LIMITS, MODEL, ORACLE, SEARCH, SETTINGS, TESTS, Setting, cli_help, invalid, read_by, values_for

EXIT_IMPROVED, EXIT_NOTHING, EXIT_BAD_INPUT, EXIT_PARTIAL, EXIT_CANCELLED = 0, 1, 2, 3, 130


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="FILE::FUNCTION", help="e.g. src/pkg/mod.py::slow_function or mod.py::Class.method")
    parser.add_argument(
        "--apply", action="store_true", help="write the result into the file (only a guarded, verified improvement)"
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="with --apply, also write a partial solution (a solve that passes only some tests)",
    )
    parser.add_argument("--explain-tests", action="store_true", help="print which tests judge the function and why, then stop")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--report", metavar="HTML", help="also write the search report, its tree drawn, as a self-contained HTML page"
    )
    parser.add_argument(
        "--write-tests",
        metavar="FILE",
        help="append the test your suite lacks (a call on which a refused rewrite behaved differently from the original) to FILE",
    )
    tests = parser.add_argument_group("tests")
    tests.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression to select tests")
    tests.add_argument(
        "--workload",
        action="append",
        default=[],
        metavar="TEST",
        help="optimize: a test (path or node id; a pytest-benchmark test, or one that runs a script) "
        "whose calls of the function are captured and timed besides the unit tests' calls; "
        "it judges nothing (repeatable)",
    )
    tests.add_argument("--no-tests", action="store_true", help="search without tests (critic only; the result is unverified)")
    _setting_arguments(parser, {TESTS: tests})


_GROUPS = {
    MODEL: "model",
    TESTS: "tests",
    LIMITS: "the sandbox's limits",
    ORACLE: "the original is the oracle (optimize)",
    SEARCH: "search (defaults fit a 2-core CPU; the paper used K=3 N=20 D=5)",
}
_ARGUMENT_TYPES = {"integer": int, "number": float, "string": str, "url": str, "strings": str, "choice": str}


def _setting_arguments(parser: argparse.ArgumentParser, groups: dict[str, argparse._ArgumentGroup]) -> None:
    """A flag per setting of the schema (settings_schema.py), its older spellings kept with a message."""
    for reader, title in _GROUPS.items():
        group = groups.get(reader) or parser.add_argument_group(title)
        for setting in read_by(reader):
            if not setting.cli:
                continue
            flags = (*setting.short_flags, setting.flag)
            if setting.kind == "boolean":
                group.add_argument(
                    *flags,
                    dest=setting.name,
                    action=argparse.BooleanOptionalAction,
                    default=setting.default,
                    help=cli_help(setting),
                )
            else:
                group.add_argument(
                    *flags,
                    dest=setting.name,
                    type=_ARGUMENT_TYPES[setting.kind],
                    choices=setting.choices or None,
                    action="append" if setting.kind == "strings" else "store",
                    default=None if setting.kind == "strings" else setting.default,
                    metavar=None if setting.choices else setting.kind.upper().replace("STRINGS", "VALUE"),
                    help=cli_help(setting) + (" (repeatable)" if setting.kind == "strings" else ""),
                )
            for old in setting.deprecated_flags:
                group.add_argument(old, dest=setting.name, action=_Deprecated, setting=setting, help=argparse.SUPPRESS)


class _Deprecated(argparse.Action):
    """An older spelling of a setting's flag: it still works, and says what replaced it."""

    def __init__(self, option_strings: list[str], dest: str, setting: Setting, **kwargs: object) -> None:
        self.setting = setting
        # `--no-critic`: the negative of a boolean, no value; the others take one as the new flag does.
        super().__init__(
            option_strings,
            dest,
            nargs=0 if setting.kind == "boolean" else None,
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object, option_string: str | None = None
    ) -> None:
        setting = self.setting
        if setting.kind == "boolean":
            value: object = not option_string.startswith("--no-") if option_string else True
        elif setting.kind == "strings":
            value = [*(getattr(namespace, self.dest, None) or []), values]
        else:
            try:
                value = _ARGUMENT_TYPES[setting.kind](values)
            except ValueError:
                raise argparse.ArgumentError(self, f"invalid {setting.kind} value: {values!r}") from None
        setattr(namespace, self.dest, value)
        said = getattr(namespace, "deprecated", [])
        said.append(
            f"{option_string} is now {setting.flag}" + ("" if setting.kind != "boolean" else f" / --no-{setting.flag[2:]}")
        )
        namespace.deprecated = said


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orps-lsp", description="ORPS code search judged by your pytest tests, as a language server or a command."
    )
    parser.add_argument("--version", action="version", version=f"orps-lsp {__version__}")
    parser.add_argument("--stdio", action="store_true", help="serve LSP over stdin/stdout")
    parser.add_argument("--tcp", action="store_true", help="serve LSP over TCP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2087)
    sub = parser.add_subparsers(dest="command")
    for name, text in (
        ("optimize", "make a function faster without breaking its tests"),
        ("solve", "write the body of a stub from its docstring and tests"),
    ):
        _search_arguments(sub.add_parser(name, help=text, description=text))
    return parser


def config_from(args: argparse.Namespace) -> SearchConfig:
    """The search's settings; every setting's value checked against the schema (bad input: one
    message) and kept as the check reads it (`--counter VALGRIND` is "valgrind")."""
    problems = invalid({s.name: _given(args, s) for s in SETTINGS if s.cli})
    if not problems:
        for setting in SETTINGS:
            if setting.cli and setting.kind not in ("strings",):
                setattr(args, setting.name, setting.check(getattr(args, setting.name)))
    config = SearchConfig(**values_for(args, SEARCH), no_tests=args.no_tests)
    problems += [p for p in config.validate() if p not in problems]
    if problems:
        raise engine.InputError("; ".join(problems))
    return config


def _given(args: argparse.Namespace, setting: Setting) -> object:
    value = getattr(args, setting.name)
    return tuple(value or ()) if setting.kind == "strings" else value


class ProgressPrinter:
    """One live line on a terminal; one line per change elsewhere."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool = True) -> None:
        self.stream, self.enabled = stream, enabled
        self.tty = stream.isatty()
        self.last = ""

    def __call__(self, progress: Progress) -> None:
        self.say(progress.message())

    def say(self, message: str) -> None:
        if not self.enabled or message == self.last:
            return
        self.last = message
        if self.tty:
            self.stream.write("\r\033[K" + message)
        else:
            self.stream.write(message + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()


def run_command(args: argparse.Namespace) -> int:
    file, function = engine.parse_target(args.target)
    config = config_from(args)
    request = engine.SearchRequest(
        file=file,
        function=function,
        mode=args.command,
        tests=args.test_paths,
        keyword=args.keyword,
        pytest_args=args.pytest_args or [],
        workload=args.workload,
        limits=SandboxLimits(**values_for(args, LIMITS)),
        oracle=OracleOptions(seed=args.seed, **values_for(args, ORACLE)),
    )
    prepared = engine.prepare(request, no_tests=args.no_tests)
    if args.explain_tests:
        for path, why in prepared.task.tests_chosen.items():
            print(f"{path}: {why}")
        if not prepared.task.tests_chosen:
            print("no tests (--no-tests)")
        return EXIT_IMPROVED
    printer = ProgressPrinter(enabled=not args.quiet)
    printer.say("loading model ...")
    model = load_configured(args)
    cancel = CancelToken()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["report"] = engine.run(prepared, model, config, progress=printer, cancel=cancel)
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    # The search runs in a worker so that Ctrl-C can set the cancel flag and
    # the sandbox kills its processes before we exit.
    worker = threading.Thread(target=work, name="orps-search", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        printer.say("cancelling ...")
        cancel.cancel()
        worker.join(10)
    finally:
        printer.close()
    if "error" in outcome:
        raise outcome["error"]
    if "report" not in outcome:
        raise Cancelled()
    report = outcome["report"]
    unusable = ""
    if report.nodes and all(not n.valid for n in report.nodes):
        reasons = sorted({n.invalid_reason for n in report.nodes})
        unusable = f"the model gave no usable code in {len(report.nodes)} answers ({'; '.join(reasons)})"
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(text_report(report, prepared.task.source))
    if args.report:
        try:
            print(f"report written to {write_html(report, args.report)}", file=sys.stderr)
        except OSError as exc:  # the HTML is a by-product: it must not cost the user the result or --apply
            print(f"orps-lsp: cannot write the report to {args.report}: {exc.strerror or exc}", file=sys.stderr)
    if report.missing_test and not args.json:
        print("\nA test your suite lacks (the original passes it; a refused rewrite did not):\n\n" + report.missing_test.rstrip())
    if report.missing_test and args.write_tests:
        _append_test(Path(args.write_tests), report.missing_test)
    if unusable:  # the table and the report are out: the answers are there to read
        raise engine.InputError(unusable)
    if args.apply and report.improved:
        if config.no_tests:
            print(
                "not applied: the result was not verified by tests (--no-tests); review the diff and apply it yourself",
                file=sys.stderr,
            )
        elif report.partial and not args.allow_partial:
            print(
                "not applied: a partial solution (some tests still fail); review the diff, or pass --allow-partial",
                file=sys.stderr,
            )
        else:
            engine.write_atomically(Path(prepared.task.file), report.new_source, prepared.source_hash)
            print(f"applied to {prepared.task.file}", file=sys.stderr)
    if report.partial:
        return EXIT_PARTIAL
    return EXIT_IMPROVED if report.improved else EXIT_NOTHING


def _append_test(path: Path, test: str) -> None:
    """Add the test to the file (made if missing), in one atomic replace."""
    try:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        text = with_test_appended(current, test)
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, text)
    except OSError as exc:
        print(f"orps-lsp: cannot write the test to {path}: {exc.strerror or exc}", file=sys.stderr)
        return
    print(f"test written to {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for said in getattr(args, "deprecated", []):
        print(f"orps-lsp: {said}; the old spelling will go", file=sys.stderr)
    if args.command is None:
        if args.stdio or args.tcp:
            from .lsp.server import serve

            serve(stdio=args.stdio, host=args.host, port=args.port)
            return 0
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return run_command(args)
    except (engine.InputError, ModelError) as exc:
        details = getattr(exc, "details", "")
        if details:
            print("--- pytest's output (last lines) ---\n" + details.rstrip() + "\n---", file=sys.stderr)
        print(f"orps-lsp: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (Cancelled, KeyboardInterrupt):
        print("orps-lsp: cancelled", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
