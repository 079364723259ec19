"""Wall time of one ORPS search through each model backend, side by side, from one run.

    python -m bench.remote_bench [--endpoint URL] [--expansions 4] [--depth 1] [--function has_duplicates]

Three searches of the example with the same settings and seed:
  1. HTTP, sequential: the remote backend with parallel=1;
  2. HTTP, concurrent: the same server, parallel=4 (a node's N children requested together);
  3. in process: llama-cpp-python's `Llama` on the same GGUF.

Without --endpoint, llama-cpp-python's own server (`python -m llama_cpp.server`)
is started on the embedded model. It serves one request at a time, so on it
(2) can only overlap the network and queueing with generation: expect a
ratio near 1. A server with slots (llama-server --parallel 4, vLLM) is where
(2) pays; pass its --endpoint to measure that. With --endpoint, (3) needs
--model (the same GGUF locally); without it, (3) is skipped.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from orps_lsp import engine
from orps_lsp.config import SearchConfig
from orps_lsp.model.base import ChatModel
from orps_lsp.model.cpu_probe import llama_cpp_server_command
from orps_lsp.model.embedded import ensure_embedded
from orps_lsp.model.http import OpenAICompatibleModel

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def llama_cpp_server(model_path: Path, threads: int):
    """`python -m llama_cpp.server` on a free port, for the length of the block."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [
            *llama_cpp_server_command(),
            "--model",
            str(model_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "8192",
            "--n_threads",
            str(threads),
            "--interrupt_requests",
            "False",
            # As the in-process backend: no logits for every prompt token, a RAM cache of prompt states.
            "--logits_all",
            "False",
            "--cache",
            "True",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"llama_cpp.server did not start; see {log.name}")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).close()
                break
            except OSError:
                time.sleep(0.3)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def search(prepared: engine.PreparedSearch, model: ChatModel, config: SearchConfig) -> dict:
    started = time.perf_counter()
    report = engine.run(prepared, model, config)
    wall = time.perf_counter() - started
    s = report.stats
    return {
        "wall": wall,
        "calls": s.llm_calls,
        "tokens": s.generated_tokens,
        "valid": sum(n.valid for n in report.nodes),
        "nodes": len(report.nodes),
        "model_seconds": s.prompt_seconds + s.generation_seconds,
        "test_seconds": s.evaluation_seconds,
    }


def backends(args: argparse.Namespace, url: str | None, model_path: Path) -> dict[str, ChatModel]:
    """The three backends, each checked (which also warms the server up before the first timing)."""
    models: dict[str, ChatModel] = {}
    if url:
        for label, parallel in (
            ("HTTP sequential (parallel=1)", 1),
            (f"HTTP concurrent (parallel={args.parallel})", args.parallel),
        ):
            remote = OpenAICompatibleModel(url, api_key=args.api_key, model=args.remote_model, max_parallel=parallel, timeout=600)
            remote.health_check()
            models[label] = remote
    if args.model or not args.endpoint:
        from orps_lsp.model.llama import LlamaCppModel

        models["in process (llama-cpp-python)"] = LlamaCppModel(str(model_path), n_threads=args.threads)
    return models


def measure(args: argparse.Namespace, url: str | None, model_path: Path) -> dict[str, list[dict]]:
    """Every backend once per round; the order rotates each round, so that drift on a shared machine
    does not always fall on the same backend."""
    config = SearchConfig(
        beam_width=1,
        expansions=args.expansions,
        depth=args.depth,
        max_llm_calls=1000,
        max_generated_tokens=1_000_000,
        max_seconds=3600,
        seed=args.seed,
        instruction_counter="none",
    )
    prepared = engine.prepare(engine.SearchRequest(file=REPO / "examples" / "slowmath" / "slowmath.py", function=args.function))
    models = backends(args, url, model_path)
    labels = list(models)
    results: dict[str, list[dict]] = {label: [] for label in labels}
    for round_ in range(args.rounds):
        for label in labels[round_ % len(labels) :] + labels[: round_ % len(labels)]:
            print(f"round {round_ + 1}/{args.rounds}: {label} ...", file=sys.stderr)
            results[label].append(search(prepared, models[label], config))
    for model in models.values():
        getattr(model, "close", lambda: None)()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.remote_bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint", help="an OpenAI-compatible server to measure (default: start llama_cpp.server)")
    parser.add_argument("--api-key", default=os.environ.get("ORPS_API_KEY"))
    parser.add_argument("--remote-model")
    parser.add_argument("--model", help="GGUF for the in-process run (default: the embedded model)")
    parser.add_argument("--function", default="has_duplicates")
    parser.add_argument("--expansions", "-N", type=int, default=4)
    parser.add_argument("--depth", "-D", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=4, help="requests in flight for the concurrent run")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1, help="searches per backend, order rotated (median reported)")
    args = parser.parse_args()
    model_path = Path(args.model) if args.model else ensure_embedded()
    if args.endpoint:
        results = measure(args, args.endpoint, model_path)
    else:
        with llama_cpp_server(model_path, args.threads) as url:
            results = measure(args, url, model_path)

    print(
        f"one search of {args.function}: K=1, N={args.expansions}, D={args.depth}, seed {args.seed}, "
        f"{args.threads} threads, server: {args.endpoint or 'llama_cpp.server (started here)'}, {args.rounds} round(s)"
    )
    print(
        f"{'backend':34} {'wall s':>7} {'model s*':>8} {'tests s':>8} {'calls':>6} {'tokens':>7} {'tok/s':>6} {'valid':>6}  all wall s"
    )
    walls = {}
    for label, runs in results.items():
        r = min(runs, key=lambda run: abs(run["wall"] - statistics.median(x["wall"] for x in runs)))  # the median run
        walls[label] = statistics.median(run["wall"] for run in runs)
        samples = " ".join(f"{run['wall']:.1f}" for run in runs)
        print(
            f"{label:34} {walls[label]:7.1f} {r['model_seconds']:8.1f} {r['test_seconds']:8.1f} {r['calls']:6d} {r['tokens']:7d} "
            f"{r['tokens'] / r['wall']:6.1f} {r['valid']:>3}/{r['nodes']:<2}  {samples}"
        )
    labels = list(walls)
    if len(labels) >= 2 and labels[0].startswith("HTTP"):
        print(f"concurrent / sequential wall time: {walls[labels[1]] / walls[labels[0]]:.2f}")
    if len(labels) == 3:
        print(
            f"HTTP sequential / in process: {walls[labels[0]] / walls[labels[2]]:.2f}; "
            f"HTTP concurrent / in process: {walls[labels[1]] / walls[labels[2]]:.2f}"
        )
    print("* model s: time in model calls, summed over calls (concurrent calls overlap, so it can exceed wall s)")
    print("(the backends' answers differ: llama_cpp.server starts a new turn after the prefill, so compare tok/s too)")


if __name__ == "__main__":
    main()
