"""Small-budget searches with the real embedded GGUF. They assert what must hold
(structure, profiles, the regression guard), never a lucky model output."""

from __future__ import annotations

import ast
import json

import pytest
from test_cli import orps

pytestmark = pytest.mark.real_model


def check_report(report: dict, *, mode: str, total: int, max_calls: int) -> None:
    stats = report["stats"]
    assert report["mode"] == mode and report["model"] == "qwen2.5-coder-0.5b"
    assert 1 <= stats["llm_calls"] <= max_calls
    assert stats["generated_tokens"] > 0
    assert stats["prompt_tokens_evaluated"] < stats["prompt_tokens_sent"]  # prefixes were reused
    assert report["nodes"], "no candidate was generated"
    original = report["original"]
    assert original["total"] == total
    for node in report["nodes"]:
        if node["valid"]:
            assert node["execution"] is not None
            execution = node["execution"]
            assert execution["total"] == total or execution["error"]
            assert execution["static"]["nloc"] > 0
    if report["best_id"] is None:
        assert not report["improved"] and report["new_source"] is None
        return
    best = next(n for n in report["nodes"] if n["id"] == report["best_id"])
    passed_before = {t["nodeid"] for t in original["tests"] if t["outcome"] == "passed"}
    passed_after = {t["nodeid"] for t in best["execution"]["tests"] if t["outcome"] == "passed"}
    assert passed_before <= passed_after  # the regression guard
    behaviour = best["execution"]["behaviour"]
    if original.get("capture") and original["capture"]["usable"]:  # the oracle: the offer behaves as the original
        assert behaviour["different"] == 0 and behaviour["identical"] == behaviour["compared"] > 0
    ast.parse(report["new_source"])


def test_optimize_with_the_real_model(example_project):
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--json",
        "-K",
        "1",
        "-N",
        "2",
        "-D",
        "2",
        "--max-llm-calls",
        "8",
        "--instruction-counter",
        "none",
        cwd=example_project,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    check_report(report, mode="optimize", total=6, max_calls=8)
    original = report["original"]
    assert original["passed"] == 6 and original["cpu_time"] > 0 and original["peak_rss_kb"] > 0
    assert original["coverage"] == 1.0 and original["static"]["cyclomatic_complexity"] >= 4
    assert (result.returncode == 0) == report["improved"]
    assert original["capture"]["usable"] >= 6  # each test's calls of has_duplicates, kept as the oracle
    for node in report["nodes"]:  # nothing that behaves differently passes the guard
        behaviour = (node["execution"] or {}).get("behaviour")
        if behaviour and behaviour["different"]:
            assert node["id"] != report["best_id"] and behaviour["differences"]


def test_solve_with_the_real_model(example_project):
    result = orps(
        "solve",
        "slowmath.py::is_palindrome",
        "--json",
        "-K",
        "1",
        "-N",
        "2",
        "-D",
        "1",
        "--max-llm-calls",
        "4",
        cwd=example_project,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    check_report(report, mode="solve", total=6, max_calls=4)
    assert report["original"]["passed"] == 0


def test_batched_generation_with_the_real_model():
    """Several candidates decoded in one llama.cpp batch: each within its limits, the shared
    prefix evaluated once (and kept for the next call), identical greedy requests identical."""
    from orps_lsp.model.base import ChatRequest
    from orps_lsp.model.llama import LlamaCppModel
    from orps_lsp.prompts import STRATEGIES, TaskContext, first_attempt, programmer_prefill
    from orps_lsp.source import find_function

    from conftest import EXAMPLE

    source = (EXAMPLE / "slowmath.py").read_text()
    function = find_function(source, "has_duplicates")
    context = TaskContext(mode="optimize", function=function, tests_source="def test_it(): ...", original_report=None)
    prefill = programmer_prefill(function)
    stop = ["\n```"]
    requests = [
        ChatRequest(first_attempt(context, STRATEGIES[i]), prefill=prefill, max_tokens=40, temperature=0.7, seed=i, stop=stop)
        for i in range(3)
    ]
    model = LlamaCppModel(parallel=4)
    try:
        first = model.chat_many(requests)
        assert len(first) == 3
        for completion, request in zip(first, requests):
            assert 0 < completion.completion_tokens <= 40 and completion.finish_reason in ("stop", "length")
            assert "\n```" not in completion.text
            assert completion.prompt_tokens == len(model.tokenize(model.render(request.messages, prefill)))
        sent = sum(c.prompt_tokens for c in first)
        evaluated = sum(c.prompt_tokens_evaluated for c in first)
        assert evaluated < sent - 2 * 100  # the shared prefix (hundreds of tokens) was evaluated once, not three times
        again = model.chat_many(requests)
        assert sum(c.prompt_tokens_evaluated for c in again) < evaluated  # and kept for the next call
        greedy = ChatRequest(requests[0].messages, prefill=prefill, max_tokens=24, temperature=0.0, stop=stop)
        twins = model.chat_many([greedy, greedy])
        assert twins[0].text == twins[1].text and twins[0].completion_tokens > 0
        single = model.chat(greedy.messages, prefill=prefill, max_tokens=8, temperature=0.0, stop=stop)
        assert single.completion_tokens > 0  # the single-sequence context is untouched by the batch
    finally:
        model.close()


@pytest.mark.parametrize("parallel", [1, 4])
def test_memory_stays_bounded_over_many_calls(parallel):
    """A long-running server makes thousands of calls: the prompt cache must stay within its capacity
    (llama-cpp-python's own count missed the logits each state keeps) and no sampler buffers may pile up."""
    import psutil

    from orps_lsp.model.llama import LlamaCppModel

    capacity = 128 << 20
    model = LlamaCppModel(parallel=parallel, cache_bytes=capacity, n_ctx=2048)
    process = psutil.Process()
    try:

        def call(index):
            model.chat(
                [{"role": "user", "content": f"Task {index}: " + "write a sorting function. " * 30}],
                max_tokens=4,
                temperature=0.7,
                seed=index,
                stop=[],
            )

        for index in range(2):
            call(index)
        settled = process.memory_info().rss
        for index in range(2, 10):
            call(index)
        growth = process.memory_info().rss - settled
        assert growth < (capacity if parallel == 1 else 0) + (64 << 20), f"grew {growth >> 20} MiB over 8 calls"
    finally:
        model.close()
