"""Machinery benchmark of one ORPS search on the example, with the embedded model.

Prints, as ratios measured in one run (this machine is noisy):
  - LLM calls, prompt tokens sent vs evaluated;
  - prefix reuse: the share of each shared prompt prefix re-evaluated per extra
    candidate of a node (goal: at most 5%);
  - generated tokens/s through the engine vs raw llama-cpp-python on the same
    prompt (goal: at least 95%);
  - evaluation time per candidate, sandboxed, forked from the warm worker and
    started cold, vs a plain `python -m pytest` of the same tests (goal: the
    warm worker at most 0.5x);
  - batched generation: N candidates of one node decoded together (one
    llama.cpp multi-sequence batch) vs one after another (goal: N=4 in at most
    0.6x the time).

    python -m bench.engine_bench [--model PATH_OR_NAME] [--function has_duplicates] [--evaluation-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import time
from pathlib import Path

from orps_lsp import engine
from orps_lsp.config import SearchConfig
from orps_lsp.executor import ExecutionTarget
from orps_lsp.model.llama import LlamaCppModel
from orps_lsp.prompts import TaskContext, first_attempt, programmer_prefill, STRATEGIES
from orps_lsp.sandbox.executor import PytestExecutor
from orps_lsp.model.batched import common_prefix

REPO = Path(__file__).resolve().parents[1]


class RecordingModel:
    """Wraps the real backend and records, per call, the prompt tokens and how many were evaluated."""

    def __init__(self, inner: LlamaCppModel) -> None:
        self.inner, self.name, self.calls = inner, inner.name, []

    def chat(self, messages, *, prefill="", **kwargs):
        tokens = self.inner.tokenize(self.inner.render(messages, prefill))
        completion = self.inner.chat(messages, prefill=prefill, **kwargs)
        role = "critic" if "reviewer" in messages[0]["content"] else "programmer"
        self.calls.append({"role": role, "tokens": tokens, "evaluated": completion.prompt_tokens_evaluated, "messages": messages})
        return completion

    def describe(self):
        return self.inner.describe()


def prefix_reuse(calls: list[dict]) -> list[float]:
    """For each programmer call that shares a prompt prefix with the previous call of its
    node (same conversation up to the strategy hint), the share of that prefix re-evaluated."""
    shares = []
    group_first = None
    for call in calls:
        if call["role"] != "programmer":
            continue
        head = [m["content"] for m in call["messages"][:-1]] + [
            call["messages"][-1]["content"].split("Approach for this attempt:")[0]
        ]
        if group_first is None or head != group_first[0]:
            group_first = (head, call["tokens"])
            continue
        shared = common_prefix(group_first[1], call["tokens"])
        unshared = len(call["tokens"]) - shared
        re_evaluated = max(0, call["evaluated"] - unshared)
        shares.append(re_evaluated / shared if shared else 1.0)
    return shares


def generation_speed(model: LlamaCppModel, messages, prefill: str, rounds: int = 3) -> tuple[float, float]:
    """Best decode tokens/s through the engine's backend vs raw create_completion, same prompt and tokens."""
    prompt = model.tokenize(model.render(messages, prefill))
    engine_rates, raw_rates = [], []
    for _ in range(rounds):
        completion = model.chat(messages, prefill=prefill, max_tokens=160, temperature=0.0, seed=0, stop=[])
        engine_rates.append(completion.completion_tokens / completion.generation_seconds)
        first, count = None, 0
        for chunk in model._llm.create_completion(prompt=prompt, max_tokens=160, temperature=0.0, seed=0, stream=True):
            first = first or time.perf_counter()
            count += 1
        raw_rates.append(count / (time.perf_counter() - first))
    return max(engine_rates), max(raw_rates)


def batched_vs_sequential(
    model: LlamaCppModel, context: TaskContext, prefill: str, n: int = 4, max_tokens: int = 96, rounds: int = 2
) -> tuple[float, float, int, int]:
    """Wall time of N candidate requests (distinct strategy hints, the search's own prompts) decoded
    one after another vs together; best of `rounds`, the shared prefix warm for both."""
    from orps_lsp.model.base import ChatRequest

    requests = [
        ChatRequest(
            messages=first_attempt(context, STRATEGIES[i % len(STRATEGIES)]),
            prefill=prefill,
            max_tokens=max_tokens,
            temperature=0.7,
            seed=i,
            stop=[],
        )
        for i in range(n)
    ]
    model.chat_many(requests)  # warm: builds the batch context, caches the shared prefix
    sequential, batched, seq_tokens, bat_tokens = [], [], 0, 0
    for _ in range(rounds):
        t = time.perf_counter()
        done = [
            model.chat(
                r.messages, prefill=r.prefill, max_tokens=r.max_tokens, temperature=r.temperature, seed=r.seed, stop=r.stop
            )
            for r in requests
        ]
        sequential.append(time.perf_counter() - t)
        seq_tokens = sum(c.completion_tokens for c in done)
        t = time.perf_counter()
        done = model.chat_many(requests)
        batched.append(time.perf_counter() - t)
        bat_tokens = sum(c.completion_tokens for c in done)
    return min(sequential), min(batched), seq_tokens, bat_tokens


def evaluation_times(target: ExecutionTarget, source: str, cwd: Path, repeats: int) -> dict[str, float]:
    """Median seconds per candidate run: forked from the warm worker, started cold, plain pytest.

    The candidate is the original with a comment added (a candidate as far as
    the executor knows); each executor's first run (reference collection,
    worker start) is left out, as it is once per search. Interleaved, so that
    the machine's load drifts over all three alike.
    """
    candidate = source + "\n# a candidate\n"
    times: dict[str, list[float]] = {"warm": [], "cold": [], "plain": []}
    test_files = [str(p) for p in target.tests.test_files]
    cold_target = dataclasses.replace(target, limits=dataclasses.replace(target.limits, warm_worker=False))
    with PytestExecutor(target) as warm, PytestExecutor(cold_target) as cold:
        warm.run(candidate)
        cold.run(candidate)
        for _ in range(repeats):
            for name, executor in (("warm", warm), ("cold", cold)):
                started = time.perf_counter()
                report = executor.run(candidate)
                times[name].append(time.perf_counter() - started)
                assert report.passed == report.total > 0, report.error
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *test_files],
                cwd=cwd,
                capture_output=True,
                check=False,
            )
            times["plain"].append(time.perf_counter() - started)
        isolation = warm.describe_isolation().split(":")[0]
        warm_used = bool(warm.warm_worker_pids())
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"evaluation per candidate ({isolation}; median of {repeats}): warm worker {medians['warm']:.3f} s"
        f"{'' if warm_used else ' (NOT warm: the worker needs bubblewrap)'}, cold sandbox {medians['cold']:.3f} s, "
        f"plain pytest {medians['plain']:.3f} s -> warm {medians['warm'] / medians['plain']:.2f}x plain pytest "
        f"(goal <= 0.5x), cold {medians['cold'] / medians['plain']:.2f}x, warm {medians['warm'] / medians['cold']:.2f}x cold"
    )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine_bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model")
    parser.add_argument("--function", default="has_duplicates")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--evaluation-only", action="store_true", help="only the evaluation figures (no model)")
    args = parser.parse_args()
    example = REPO / "examples" / "slowmath"
    request = engine.SearchRequest(file=example / "slowmath.py", function=args.function)
    prepared = engine.prepare(request)
    if args.evaluation_only:
        evaluation_times(prepared.target, prepared.task.source, example, max(args.repeats, 9))
        return

    load_started = time.perf_counter()
    backend = LlamaCppModel(args.model, parallel=4)
    load_seconds = time.perf_counter() - load_started
    model = RecordingModel(backend)

    started = time.perf_counter()
    report = engine.run(prepared, model, SearchConfig())  # sequential generation: RecordingModel has no chat_many
    search_seconds = time.perf_counter() - started
    s = report.stats
    shares = prefix_reuse(model.calls)

    context = TaskContext(
        mode=prepared.task.mode,
        function=prepared.task.function,
        tests_source=prepared.task.tests_source,
        original_report=report.original,
    )
    engine_rate, raw_rate = generation_speed(
        backend, first_attempt(context, STRATEGIES[0]), programmer_prefill(prepared.task.function)
    )
    one_by_one, together, seq_tokens, bat_tokens = batched_vs_sequential(
        backend, context, programmer_prefill(prepared.task.function)
    )

    print(f"model: {report.model} (load {load_seconds:.1f} s); search: {search_seconds:.0f} s, verdict: {report.verdict}")
    print(
        f"LLM calls: {s.llm_calls}; candidates: {len(report.nodes)}, executed: {s.candidates_executed}; stopped by {s.stopped_by}"
    )
    print(
        f"prompt tokens sent: {s.prompt_tokens_sent}, evaluated: {s.prompt_tokens_evaluated} "
        f"({s.prompt_tokens_evaluated / max(1, s.prompt_tokens_sent):.1%} of sent)"
    )
    if shares:
        print(
            f"prefix reuse: shared prefix re-evaluated per extra candidate: mean {statistics.mean(shares):.2%}, "
            f"max {max(shares):.2%} over {len(shares)} candidates (goal <= 5%)"
        )
    print(
        f"generation: engine {engine_rate:.1f} tok/s vs raw llama-cpp-python {raw_rate:.1f} tok/s = "
        f"{engine_rate / raw_rate:.1%} (goal >= 95%)"
    )
    print(
        f"time split: prompt eval {s.prompt_seconds:.1f} s, generation {s.generation_seconds:.1f} s, "
        f"test runs {s.evaluation_seconds:.1f} s"
    )
    evaluation_times(prepared.target, prepared.task.source, example, args.repeats)
    print(
        f"batched generation, N=4 candidates: together {together:.1f} s ({bat_tokens} tokens) vs one by one {one_by_one:.1f} s "
        f"({seq_tokens} tokens) = {together / one_by_one:.2f}x the time (goal <= 0.6x); "
        f"per token {(together / max(1, bat_tokens)) / (one_by_one / max(1, seq_tokens)):.2f}x"
    )


if __name__ == "__main__":
    main()
