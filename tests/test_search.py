"""The ORPS search logic with a scripted model and a scripted executor (fast, deterministic)."""

from __future__ import annotations

import pytest
from conftest import EXAMPLE
from fakes import ScriptedExecutor, report

from orps_lsp.cancel import Cancelled, CancelToken
from orps_lsp.config import SearchConfig
from orps_lsp.model.base import chat_once
from orps_lsp.model.scripted import ScriptedModel
from orps_lsp.search import SearchTask, run_search
from orps_lsp.source import find_function

SOURCE = (EXAMPLE / "slowmath.py").read_text()
ORIGINAL_BODY = "items[i] == items[j]"

FAST = "    return len(set(items)) != len(items)\n```"
WRONG_FAST = "    return False\n```"
SAME = "    for i in range(len(items)):\n        for j in range(len(items)):\n            if i != j and items[i] == items[j]:\n                return True\n    return False\n```"
GOOD_REVIEW = "Critique: Correct and linear.\nScore: 5\nDone: no"


def task(name="has_duplicates", mode="optimize"):
    return SearchTask(
        mode=mode, file="slowmath.py", source=SOURCE, function=find_function(SOURCE, name), tests_source="def test(): ..."
    )


def judge(source: str):
    """Original and equivalents: 6/6 tests, 1.0 s; the set version: 0.01 s; `return False`: wrong but fastest."""
    body = source.split("def has_duplicates")[1].split("def fib")[0]
    if "set(items)" in body:
        return report(6, 6, cpu=0.01)
    if "return False" in body and ORIGINAL_BODY not in body:
        return report(3, 6, cpu=0.001)
    return report(6, 6, cpu=1.0)


def programmer_and_critic(programmer_answers, review=GOOD_REVIEW):
    """Answers by role: the critic's prompt is recognised by its system message."""
    state = {"n": 0}

    def respond(messages, prefill):
        if "strict reviewer" in messages[0]["content"]:
            return review if isinstance(review, str) else review(messages)
        answer = programmer_answers[state["n"] % len(programmer_answers)]
        state["n"] += 1
        return answer

    return respond


def test_beam_shape_history_and_budget_accounting():
    model = ScriptedModel(programmer_and_critic([SAME, WRONG_FAST, SAME]))
    executor = ScriptedExecutor(judge)
    config = SearchConfig(beam_width=2, expansions=3, depth=3, max_llm_calls=100)
    result = run_search(task(), model, executor, config)
    assert len(result.nodes) == 3 + 2 * 3 * 2
    assert result.stats.llm_calls == len(model.calls) == 2 * len(result.nodes)
    assert result.stats.stopped_by == "depth"
    by_id = {n.id: n for n in result.nodes}
    for node in result.nodes:
        if node.depth == 0:
            assert node.parent is None
        else:
            assert by_id[node.parent].depth == node.depth - 1
    # each round refines exactly K parents from the previous round
    for depth in (1, 2):
        parents = {n.parent for n in result.nodes if n.depth == depth}
        assert len(parents) == 2
    # round 0 prompts carry distinct strategy hints; refinements carry the history and the critique
    first_prompts = [c["messages"][-1]["content"] for c in model.calls if "strict reviewer" not in c["messages"][0]["content"]][
        :3
    ]
    hints = [p.split("Approach for this attempt:")[1] for p in first_prompts]
    assert len(set(hints)) == 3
    refine = [c for c in model.calls if len(c["messages"]) > 2][0]["messages"]
    assert refine[2]["role"] == "assistant" and "Reviewer: Correct and linear." in refine[3]["content"]
    assert all(
        c["prefill"].startswith("```python\ndef has_duplicates(items):")
        for c in model.calls
        if "strict reviewer" not in c["messages"][0]["content"]
    )


def test_regression_guard_never_picks_a_faster_wrong_candidate():
    result = run_search(
        task(), ScriptedModel(programmer_and_critic([WRONG_FAST, SAME])), ScriptedExecutor(judge), SearchConfig(depth=2)
    )
    assert result.best is None and not result.improved and result.new_source is None
    assert "nothing offered" in result.verdict


def test_fast_correct_candidate_wins_and_is_remeasured():
    executor = ScriptedExecutor(judge)
    result = run_search(
        task(), ScriptedModel(programmer_and_critic([WRONG_FAST, FAST, SAME])), executor, SearchConfig(depth=1, timing_repeats=4)
    )
    assert result.improved and "set(items)" in result.best.code
    assert "set(items)" in result.new_source and "def fib" in result.new_source
    assert "100.00x faster" in result.verdict
    # The final pick measures the original and the finalists again, interleaved round by round.
    final = executor.runs[-4 * 2 :]
    assert [("set(items)" in r["source"].split("def fib")[0]) for r in final] == [False, True] * 4
    assert all(r["repeats"] == 1 for r in final)


EQUIVALENT = (
    "    n = len(items)\n    for i in range(n):\n        for j in range(n):\n"
    "            if i != j and items[i] == items[j]:\n                return True\n    return False\n```"
)


def test_nothing_faster_means_nothing_offered():
    result = run_search(
        task(), ScriptedModel(programmer_and_critic([EQUIVALENT])), ScriptedExecutor(judge), SearchConfig(depth=2)
    )
    assert not result.improved and result.best is None
    assert "below the 1.05x needed" in result.verdict


def test_a_copy_of_the_original_is_never_offered_however_fast_it_measures():
    """A copy (other comments, another docstring) that happened to measure 10x faster."""
    copy = '    """Another docstring."""\n' + SAME.replace("return True", "return True  # found one")

    def lucky(source: str):
        body = source.split("def has_duplicates")[1].split("def fib")[0]
        return report(6, 6, cpu=0.1 if "Another docstring" in body else 1.0)

    result = run_search(task(), ScriptedModel(programmer_and_critic([copy])), ScriptedExecutor(lucky), SearchConfig(depth=1))
    assert all(n.execution.passed == 6 for n in result.nodes)
    assert not result.improved and result.best is None and result.new_source is None
    assert "are the original itself" in result.verdict


def test_a_speed_up_inside_the_noise_is_not_offered():
    """Median 1.2x faster, but the runs overlap: one of the candidate's runs is as slow as the original's best."""
    times = {"original": iter([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]), "candidate": iter([0.8, 1.0, 0.8, 0.8, 0.8, 0.8, 0.8])}

    def noisy(source: str):
        body = source.split("def has_duplicates")[1].split("def fib")[0]
        return report(6, 6, cpu=next(times["candidate" if "n = len(items)" in body else "original"]))

    result = run_search(
        task(),
        ScriptedModel(programmer_and_critic([EQUIVALENT])),
        ScriptedExecutor(noisy),
        SearchConfig(depth=1, expansions=1, timing_repeats=5),
    )
    assert not result.improved and result.best is None
    assert "not clear of the noise" in result.verdict


OTHER_EQUIVALENT = (
    "    seen = list(items)\n    for i in range(len(seen)):\n        for j in range(len(seen)):\n"
    "            if i != j and seen[i] == seen[j]:\n                return True\n    return False\n```"
)


def test_a_clearly_faster_candidate_beats_one_that_only_looks_faster():
    """One finalist's median is lower but one of its runs is as slow as the original; the
    other is steadily 1.7x faster: the steady one is offered, not "nothing"."""
    import itertools

    times = {
        "original": itertools.repeat(1.0),
        "noisy": itertools.cycle([0.3, 0.3, 1.0, 0.3, 0.3]),
        "steady": itertools.repeat(0.6),
    }

    def measured(source: str):
        body = source.split("def has_duplicates")[1].split("def fib")[0]
        which = "noisy" if "n = len(items)" in body else "steady" if "seen = list(items)" in body else "original"
        return report(6, 6, cpu=next(times[which]))

    result = run_search(
        task(),
        ScriptedModel(programmer_and_critic([EQUIVALENT, OTHER_EQUIVALENT])),
        ScriptedExecutor(measured),
        SearchConfig(depth=1, expansions=2, timing_repeats=5),
    )
    assert result.improved and "seen = list(items)" in result.best.code, result.verdict
    assert "1.67x faster" in result.verdict


def test_candidates_and_the_original_are_compared_on_one_clock():
    """The candidate's CPU time is below the clock's resolution (it waits), so all are judged on
    wall time: the candidate's wall time is never set against the original's CPU time."""

    def measured(source: str):
        body = source.split("def has_duplicates")[1].split("def fib")[0]
        cpu, wall = (0.01, 1.2) if "n = len(items)" in body else (1.0, 2.0)
        result = report(6, 6, cpu=cpu)
        result.wall_time, result.wall_times = wall, [wall]
        return result

    result = run_search(
        task(),
        ScriptedModel(programmer_and_critic([EQUIVALENT])),
        ScriptedExecutor(measured),
        SearchConfig(depth=1, expansions=1, timing_repeats=3),
    )
    assert result.improved and "1.67x faster (wall time" in result.verdict, result.verdict


def test_duplicate_candidates_are_executed_once():
    executor = ScriptedExecutor(judge)
    run_search(task(), ScriptedModel(programmer_and_critic([SAME])), executor, SearchConfig(depth=1, expansions=3, finalists=1))
    searched = [r for r in executor.runs if r["repeats"] == 1]
    assert len(searched) == 1  # three identical candidates, one run


@pytest.mark.parametrize("limit", [1, 4, 7])
def test_llm_call_budget_is_never_exceeded(limit):
    model = ScriptedModel(programmer_and_critic([FAST, SAME]))
    result = run_search(task(), model, ScriptedExecutor(judge), SearchConfig(max_llm_calls=limit))
    assert len(model.calls) == result.stats.llm_calls <= limit
    assert result.stats.stopped_by == "budget:calls"


def test_done_and_passing_and_faster_stops_early():
    result = run_search(
        task(),
        ScriptedModel(programmer_and_critic([FAST], review="Critique: optimal\nScore: 5\nDone: yes")),
        ScriptedExecutor(judge),
        SearchConfig(depth=3),
    )
    assert result.stats.stopped_by == "done"
    assert max(n.depth for n in result.nodes) == 0


def test_answers_without_code_offer_nothing_and_skip_the_critic():
    model = ScriptedModel(["I am sorry, I cannot do that."])
    result = run_search(task(), model, ScriptedExecutor(judge), SearchConfig(depth=1, prefill=False))
    assert all(not n.valid and "no code" in n.invalid_reason for n in result.nodes)
    assert result.best is None and len(model.calls) == 3


def test_malformed_critic_score_gives_lowest_process_score():
    result = run_search(
        task(),
        ScriptedModel(programmer_and_critic([FAST], review="Looks great!")),
        ScriptedExecutor(judge),
        SearchConfig(depth=1),
    )
    assert all(n.scores.process == 0.0 for n in result.nodes)
    assert result.improved  # the outcome still counts


def test_cancel_stops_the_search():
    cancel = CancelToken()

    def respond(messages, prefill):
        cancel.cancel()  # the user cancels while the first candidate is generated
        return FAST

    with pytest.raises(Cancelled):
        run_search(task(), ScriptedModel(respond), ScriptedExecutor(judge), SearchConfig(), cancel=cancel)


def test_solve_mode_prefers_most_tests_passed():
    src_task = task("is_palindrome", mode="solve")
    partial = "    return text == text[::-1]\n```"
    full = "    s = [c.lower() for c in text if c.isalpha()]\n    return s == s[::-1]\n```"

    def judge_solve(source):
        body = source.split("def is_palindrome")[1]
        if "isalpha" in body:
            return report(6, 6, cpu=0.02)
        if "[::-1]" in body:
            return report(4, 6, cpu=0.01)
        return report(0, 6, cpu=0.01)

    result = run_search(
        src_task, ScriptedModel(programmer_and_critic([partial, full])), ScriptedExecutor(judge_solve), SearchConfig(depth=1)
    )
    assert result.improved and "isalpha" in result.best.code
    assert result.verdict == "solved: 6/6 tests pass"


def test_progress_reports_rounds_and_best():
    seen = []
    run_search(
        task(),
        ScriptedModel(programmer_and_critic([FAST, SAME])),
        ScriptedExecutor(judge),
        SearchConfig(depth=2),
        progress=seen.append,
    )
    messages = [p.message() for p in seen]
    assert any(m.startswith("round 2/2") for m in messages)
    assert any("best: 6/6 tests, 100.0x faster" in m for m in messages)
    assert seen[-1].phase == "done"


class BatchingModel(ScriptedModel):
    """A backend with parallel slots: the children of a node arrive as one batch."""

    max_parallel = 4

    def __init__(self, responder):
        super().__init__(responder)
        self.batches: list[int] = []

    def chat_many(self, requests, *, cancel=None):
        self.batches.append(len(requests))
        return [chat_once(self, r, cancel) for r in requests]


def test_parallel_backend_gets_each_nodes_children_as_one_batch():
    model = BatchingModel(programmer_and_critic([SAME, FAST, SAME]))
    result = run_search(
        task(), model, ScriptedExecutor(judge), SearchConfig(beam_width=2, expansions=3, depth=2, max_llm_calls=100)
    )
    assert model.batches == [3, 3, 3]  # round 0, then one batch per beam node
    seeds = [c["seed"] for c in model.calls]
    assert len(set(seeds)) == len(seeds)  # every call has its own seed
    assert result.improved


def test_parallel_backend_respects_the_call_budget():
    model = BatchingModel(programmer_and_critic([SAME]))
    result = run_search(task(), model, ScriptedExecutor(judge), SearchConfig(expansions=3, max_llm_calls=5))
    assert len(model.calls) <= 5 and result.stats.stopped_by == "budget:calls"


# ------------------------------------------- the benchmark's baselines as engine settings
def test_without_a_critic_a_passing_faster_node_finishes_the_chain():
    """Reflexion-style (one chain, no critic): it stops at the first node that passes and is faster."""
    model = ScriptedModel(programmer_and_critic([SAME, FAST, SAME]))
    config = SearchConfig(beam_width=1, expansions=1, depth=4, use_critic=False, max_llm_calls=100)
    result = run_search(task(), model, ScriptedExecutor(judge), config)
    assert [n.parent for n in result.nodes] == [None, 0]  # a chain, cut after the fast node
    assert result.stats.stopped_by == "done" and result.stats.llm_calls == 2
    assert all(n.critique is None for n in result.nodes)
    assert result.best is not None and "set(items)" in result.best.code


def test_one_sample_without_tests_or_critic_offers_that_sample_unverified():
    """CoT: one programmer call, nothing run, nothing reviewed; the answer is offered as unverified."""
    model = ScriptedModel(programmer_and_critic([WRONG_FAST]))
    config = SearchConfig(beam_width=1, expansions=1, depth=1, use_critic=False, no_tests=True)
    result = run_search(task(), model, None, config)
    assert result.stats.llm_calls == 1 and result.nodes[0].execution is None
    assert result.best_id == 0 and result.verdict.startswith("UNVERIFIED")


def test_no_execution_ablation_stops_when_the_critic_says_done():
    model = ScriptedModel(programmer_and_critic([WRONG_FAST], review="Critique: fine.\nScore: 4\nDone: yes"))
    result = run_search(task(), model, None, SearchConfig(no_tests=True, max_llm_calls=100))
    assert result.stats.stopped_by == "done" and len(result.nodes) == 3  # round 0 only
    assert result.verdict.startswith("UNVERIFIED: critic score 4/5")


@pytest.mark.parametrize("setting, counted", [("auto", False), ("valgrind", True)])
def test_whole_runs_are_counted_only_when_asked(setting, counted):
    """A whole run's instructions are mostly pytest's start-up: "auto" never counts them (close
    per-call figures are settled by the function's own instructions); "valgrind" does."""

    def close_judge(source: str):
        body = source.split("def has_duplicates")[1].split("def fib")[0]
        return report(6, 6, cpu=0.05 / 1.2 if "set(items)" in body else 0.05)

    executor = ScriptedExecutor(close_judge)
    config = SearchConfig(beam_width=1, expansions=1, depth=1, use_critic=False, instruction_counter=setting)
    run_search(task(), ScriptedModel(programmer_and_critic([FAST])), executor, config)
    assert any(r["count_instructions"] for r in executor.runs) is counted


def test_the_time_budget_covers_the_whole_search_and_the_final_pick():
    """Runs of 0.3 s and model calls of 0.2 s: unbounded, this search takes about 25 s
    (15 candidates, 30 calls, 5 rounds of re-measurement); with 4 s it must end near 4 s,
    having left room for the final pick."""
    import time as clock

    class SlowExecutor(ScriptedExecutor):
        def run(self, module_source, **options):
            clock.sleep(0.3 * (options.get("repeats", 1) + bool(options.get("measure_coverage"))))
            return super().run(module_source, **options)

    answers = programmer_and_critic([FAST, EQUIVALENT, WRONG_FAST])

    def slow(messages, prefill):
        clock.sleep(0.2)
        return answers(messages, prefill)

    result = run_search(task(), ScriptedModel(slow), SlowExecutor(judge), SearchConfig(max_seconds=4.0))
    assert result.stats.stopped_by == "budget:seconds"
    assert result.stats.wall_seconds <= 4.0 * 1.2, result.stats
    assert result.improved  # the fast candidate still got its re-measurement


def test_a_copy_of_the_original_does_not_finish_the_search():
    """A copy measured faster by chance, with the critic saying done: the search goes on."""
    copy = SAME.replace("return True", "return True  # same")

    def lucky(source: str):
        return report(6, 6, cpu=0.5 if "# same" in source else 1.0)

    result = run_search(
        task(),
        ScriptedModel(programmer_and_critic([copy], review="Critique: fine\nScore: 5\nDone: yes")),
        ScriptedExecutor(lucky),
        SearchConfig(depth=2),
    )
    assert result.stats.stopped_by == "depth" and max(n.depth for n in result.nodes) == 1


def test_an_offer_the_extra_oracle_refutes_gives_way_to_the_next_best():
    """The executor's cross-check (CrossHair) refutes the fastest candidate before it is
    offered: the next best is checked and offered, with the refusal on the first node."""
    from orps_lsp.report import CrossCheck

    faster_but_refuted = "    return len(set(items)) < len(items)\n```"

    def timed(source: str):
        body = source.split("def has_duplicates")[1].split("def fib")[0]
        if "set(items)) <" in body:
            return report(6, 6, cpu=0.005)
        return judge(source)

    class Refuting(ScriptedExecutor):
        checked: list[str]

        def cross_check(self, module_source, *, seconds_left=float("inf")):
            self.checked.append(module_source)
            if "set(items)) <" in module_source:
                return CrossCheck(
                    seconds=2.0, proposed=1, different=1, differences=["has_duplicates([]) (found by CrossHair) returned ..."]
                )
            return CrossCheck(seconds=2.0)

    executor = Refuting(timed)
    executor.checked = []
    result = run_search(
        task(), ScriptedModel(programmer_and_critic([faster_but_refuted, FAST])), executor, SearchConfig(depth=1, expansions=2)
    )
    assert result.improved and "set(items)) !=" in result.best.code, result.verdict
    assert "CrossHair: no difference in 2 s" in result.verdict, result.verdict
    refuted = next(n for n in result.nodes if "set(items)) <" in n.code)
    assert refuted.execution.behaviour.differs and len(executor.checked) == 2


def test_finalists_are_ranked_per_call_and_one_below_the_bar_is_not_timed_again():
    """Over whole runs (mostly pytest's time) the set rewrite looks slowest and would not be a
    finalist; its per-call feedback figure ranks it first. A finalist whose feedback interval
    lies below the bar is not benchmarked again. Evaluation time is kept by what it was spent on."""
    from orps_lsp.report import PerCallBenchmark

    count_based = "    return any(items.count(x) > 1 for x in items)\n```"
    sorting = "    ordered = sorted(items)\n    return any(a == b for a, b in zip(ordered, ordered[1:]))\n```"
    per_call = {"items.count": (1.01, 0.98, 1.04), "ordered = sorted": (0.6, 0.55, 0.65), "set(items)": (3.0, 2.9, 3.1)}
    whole_run = {"items.count": 0.5, "ordered = sorted": 0.6, "set(items)": 0.95}

    def which(source: str) -> str | None:
        body = source.split("def has_duplicates")[1].split("def fib")[0]
        return next((key for key in per_call if key in body), None)

    class Timed(ScriptedExecutor):
        final: list[str] = []

        def benchmark(self, module_source, *, seconds, scaling=0.0):
            key = which(module_source)
            if scaling:
                self.final.append(key)
            speedup, low, high = per_call[key]
            return PerCallBenchmark(
                calls=1,
                timed=[0],
                rounds=20,
                speedup=speedup,
                low=low,
                high=high,
                original_seconds=[3e-3],
                candidate_seconds=[3e-3 / speedup],
            )

        def confirm_benchmark(self, module_source, bench, *, heavy_only=False):
            bench.passes, bench.alone_cpu, bench.alone_wall = 1000, (3.0, 1.0), (3.1, 1.1)

    def timed(source: str):
        key = which(source)
        return report(6, 6, cpu=whole_run[key]) if key else judge(source)

    executor = Timed(timed)
    result = run_search(
        task(),
        ScriptedModel(programmer_and_critic([count_based, sorting, FAST])),
        executor,
        SearchConfig(depth=1, expansions=3, finalists=2),
    )
    assert result.improved and "set(items)" in result.best.code, result.verdict
    assert "3.00x faster per call (95% CI 2.90-3.10x)" in result.verdict
    assert executor.final == ["set(items)"]  # the count-based finalist's 0.98-1.04x never reaches 1.05x
    breakdown = result.stats.evaluation_breakdown
    assert {"test runs", "feedback benchmarks", "final benchmarks", "runs alone"} <= set(breakdown)
    assert sum(breakdown.values()) == pytest.approx(result.stats.evaluation_seconds)
