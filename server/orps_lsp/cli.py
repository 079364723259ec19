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

from . import __version__, engine
from .cancel import Cancelled, CancelToken
from .config import SCALING_CHOICES, SearchConfig
from .executor import OracleOptions, SandboxLimits
from .model.base import ModelError
from .model.embedded import DEFAULT_MODEL, EMBEDDED_MODELS
from .model.loader import REMOTE_PARALLEL, load_model
from .regression import with_test_appended
from .render import text_report
from .report_html import write_html
from .search import Progress

EXIT_IMPROVED, EXIT_NOTHING, EXIT_BAD_INPUT, EXIT_PARTIAL, EXIT_CANCELLED = 0, 1, 2, 3, 130


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="FILE::FUNCTION", help="e.g. src/pkg/mod.py::slow_function or mod.py::Class.method")
    parser.add_argument("--apply", action="store_true", help="write the result into the file (only a guarded, verified improvement)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="with --apply, also write a partial solution (a solve that passes only some tests)")
    parser.add_argument("--explain-tests", action="store_true", help="print which tests judge the function and why, then stop")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--report", metavar="HTML", help="also write the search report, its tree drawn, as a self-contained HTML page")
    parser.add_argument("--write-tests", metavar="FILE", help="append the test your suite lacks (a call on which a refused "
                        "rewrite behaved differently from the original) to FILE")
    model = parser.add_argument_group("model")
    model.add_argument("--model", help=f"a .gguf path or an embedded model name ({', '.join(EMBEDDED_MODELS)}); "
                       f"default: $ORPS_MODEL, else {DEFAULT_MODEL}")
    model.add_argument("--gpu-layers", type=int, help="layers to offload (default: all when the build supports CUDA/Metal, else 0)")
    model.add_argument("--ctx", type=int, default=8192, help="context window in tokens (default 8192)")
    model.add_argument("--threads", type=int, help="CPU threads for the model (default: all cores)")
    model.add_argument("--endpoint", metavar="URL", help="an OpenAI-compatible server to use instead of a local model, "
                       "e.g. http://gpu-box:8080/v1 (llama-server, vLLM, Ollama); default: $ORPS_ENDPOINT")
    model.add_argument("--api-key", metavar="KEY", help="the server's API key (default: $ORPS_API_KEY, which keeps it out of `ps`)")
    model.add_argument("--remote-model", metavar="NAME", help="the model name on the server (default: the one it serves)")
    model.add_argument("--parallel", type=int, metavar="N", help="candidates generated together: requests in flight on a server "
                       f"(match its slots), or sequences in one llama.cpp batch for a local model (default {REMOTE_PARALLEL}; 1: one by one)")
    tests = parser.add_argument_group("tests")
    tests.add_argument("--tests", action="append", metavar="PATH", help="test file or folder (repeatable; default: discover)")
    tests.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression to select tests")
    tests.add_argument("--pytest-arg", action="append", default=[], metavar="ARG", help="extra argument for pytest (repeatable)")
    tests.add_argument("--workload", action="append", default=[], metavar="TEST",
                       help="optimize: a test (path or node id; a pytest-benchmark test, or one that runs a script) "
                            "whose calls of the function are captured and timed besides the unit tests' calls; "
                            "it judges nothing (repeatable)")
    tests.add_argument("--no-tests", action="store_true", help="search without tests (critic only; the result is unverified)")
    tests.add_argument("--test-timeout", type=float, default=10.0, help="seconds per test (default 10)")
    tests.add_argument("--run-timeout", type=float, default=60.0, help="seconds per candidate run (default 60)")
    tests.add_argument("--memory-mb", type=int, default=2048, help="memory limit of a test run in MB (default 2048)")
    oracle = parser.add_argument_group("the original is the oracle (optimize)")
    oracle.add_argument("--generated-inputs", type=int, default=OracleOptions().generated_inputs, metavar="N",
                        help="inputs drawn with Hypothesis from the original's captured calls, on which every candidate "
                             f"must behave as the original does (default {OracleOptions().generated_inputs}; 0: none)")
    oracle.add_argument("--compare-exception-messages", action="store_true",
                        help="exceptions must match the original's in message too, not only in type")
    oracle.add_argument("--crosshair-seconds", type=float, default=OracleOptions().crosshair_seconds, metavar="S",
                        help="where CrossHair is installed, seconds it searches for an input on which the candidate "
                             f"about to be offered differs from the original (default {OracleOptions().crosshair_seconds:g}; 0: off)")
    search = parser.add_argument_group("search (defaults fit a 2-core CPU; the paper used K=3 N=20 D=5)")
    defaults = SearchConfig()
    search.add_argument("--beam-width", "-K", type=int, default=defaults.beam_width)
    search.add_argument("--expansions", "-N", type=int, default=defaults.expansions)
    search.add_argument("--depth", "-D", type=int, default=defaults.depth)
    search.add_argument("--alpha", type=float, default=defaults.alpha, help="weight of the critic's score")
    search.add_argument("--beta", type=float, default=defaults.beta, help="weight of the tests and profile")
    search.add_argument("--max-calls", type=int, default=defaults.max_llm_calls)
    search.add_argument("--max-tokens", type=int, default=defaults.max_generated_tokens)
    search.add_argument("--max-seconds", type=float, default=defaults.max_seconds)
    search.add_argument("--seed", type=int, default=defaults.seed)
    search.add_argument("--temperature", type=float, default=defaults.temperature)
    search.add_argument("--no-critic", action="store_true", help="skip the critic (ablation)")
    search.add_argument("--counter", choices=["auto", "valgrind", "none"], default=defaults.instruction_counter,
                        help="auto: a close per-call figure is settled by the instructions of the function "
                             "alone (perf or valgrind, if installed); valgrind: whole test runs are counted "
                             "too; none: never")
    search.add_argument("--benchmark-seconds", type=float, default=defaults.benchmark_seconds,
                        help="time each finalist's function beside the original's, on the captured calls, "
                             "for about this long")
    search.add_argument("--scaling", choices=list(SCALING_CHOICES), default=defaults.scaling,
                        help="a finalist faster on the tests' inputs but slower on larger ones: warn (default), "
                             "refuse, or off (not measured)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orps-lsp", description="ORPS code search judged by your pytest tests, as a language server or a command.")
    parser.add_argument("--version", action="version", version=f"orps-lsp {__version__}")
    parser.add_argument("--stdio", action="store_true", help="serve LSP over stdin/stdout")
    parser.add_argument("--tcp", action="store_true", help="serve LSP over TCP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2087)
    sub = parser.add_subparsers(dest="command")
    for name, text in (("optimize", "make a function faster without breaking its tests"),
                       ("solve", "write the body of a stub from its docstring and tests")):
        _search_arguments(sub.add_parser(name, help=text, description=text))
    return parser


def config_from(args: argparse.Namespace) -> SearchConfig:
    config = SearchConfig(
        beam_width=args.beam_width, expansions=args.expansions, depth=args.depth, alpha=args.alpha, beta=args.beta,
        max_llm_calls=args.max_calls, max_generated_tokens=args.max_tokens, max_seconds=args.max_seconds,
        seed=args.seed, temperature=args.temperature, use_critic=not args.no_critic,
        instruction_counter=args.counter, benchmark_seconds=args.benchmark_seconds, scaling=args.scaling, no_tests=args.no_tests,
    )
    problems = config.validate()
    if problems:
        raise engine.InputError("; ".join(problems))
    return config


class ProgressPrinter:
    """One live line on a terminal; one line per change elsewhere."""

    def __init__(self, stream=sys.stderr, enabled: bool = True) -> None:
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
        file=file, function=function, mode=args.command, tests=args.tests, keyword=args.keyword,
        pytest_args=args.pytest_arg, workload=args.workload,
        limits=SandboxLimits(per_test_timeout=args.test_timeout, total_timeout=args.run_timeout, memory_mb=args.memory_mb),
        oracle=OracleOptions(generated_inputs=args.generated_inputs,
                             compare_exception_messages=args.compare_exception_messages, seed=args.seed,
                             crosshair_seconds=args.crosshair_seconds),
    )
    if request.oracle.validate():
        raise engine.InputError("; ".join(request.oracle.validate()))
    prepared = engine.prepare(request, no_tests=args.no_tests)
    if args.explain_tests:
        for path, why in prepared.task.tests_chosen.items():
            print(f"{path}: {why}")
        if not prepared.task.tests_chosen:
            print("no tests (--no-tests)")
        return EXIT_IMPROVED
    printer = ProgressPrinter(enabled=not args.quiet)
    printer.say("loading model ...")
    model = load_model(args.model, n_ctx=args.ctx, n_threads=args.threads, gpu_layers=args.gpu_layers,
                       endpoint=args.endpoint, api_key=args.api_key, remote_model=args.remote_model,
                       max_parallel=args.parallel or REMOTE_PARALLEL)
    cancel = CancelToken()
    outcome: dict = {}

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
        print("\nA test your suite lacks (the original passes it; a refused rewrite did not):\n\n"
              + report.missing_test.rstrip())
    if report.missing_test and args.write_tests:
        _append_test(Path(args.write_tests), report.missing_test)
    if unusable:  # the table and the report are out: the answers are there to read
        raise engine.InputError(unusable)
    if args.apply and report.improved:
        if config.no_tests:
            print("not applied: the result was not verified by tests (--no-tests); review the diff and apply it yourself", file=sys.stderr)
        elif report.partial and not args.allow_partial:
            print("not applied: a partial solution (some tests still fail); review the diff, or pass --allow-partial",
                  file=sys.stderr)
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
        engine.replace_file(path, text)
    except OSError as exc:
        print(f"orps-lsp: cannot write the test to {path}: {exc.strerror or exc}", file=sys.stderr)
        return
    print(f"test written to {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
