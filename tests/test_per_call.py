"""Time the function, not the test run: the per-call benchmark (sandbox/benchmark.py, per_call.py,
speedup.py) against plain timeit, and what it refuses to call faster."""

from __future__ import annotations

import base64
import pickle
import random
import re
import statistics
import textwrap
import timeit
import types
from pathlib import Path

import pytest
from fakes import ScriptedExecutor
from fakes import report as fake_report

from orps_lsp import engine
from orps_lsp.config import SearchConfig
from orps_lsp.contract import WarningCode
from orps_lsp.discovery import discover_tests
from orps_lsp.executor import ExecutionTarget, SandboxLimits
from orps_lsp.model.scripted import ScriptedModel
from orps_lsp.report import PerCallBenchmark, ScaledCall, Scaling
from orps_lsp.sandbox import benchmark, instructions, scaling, speedup
from orps_lsp.sandbox.executor import PytestExecutor
from orps_lsp.search import SearchTask, run_search
from orps_lsp.final_pick import per_call_bar, per_call_unconfirmed, scaling_warning
from orps_lsp.source import find_function

LIMITS = SandboxLimits(per_test_timeout=10, total_timeout=60, memory_mb=1024, cpu_seconds=60)

TOTAL = """\
def total(xs):
    s = 0
    for x in xs:
        s += x
    return s
"""
TOTAL_TESTS = """\
from mod import total

def test_small():
    assert total([1, 2, 3]) == 6

def test_more():
    for n in (10, 40, 80):
        assert total(list(range(n))) == n * (n - 1) // 2
"""
TOTAL_FAST = "def total(xs):\n    return sum(xs)\n"
# The same code, written differently: never faster.
TOTAL_REFORMATTED = "def total(values):\n    acc = 0\n    for v in values:\n        acc = acc + v\n    return acc\n"


def executor_for(tmp_path: Path, module: str, tests: str, function: str) -> PytestExecutor:
    (tmp_path / "mod.py").write_text(textwrap.dedent(module))
    (tmp_path / "test_mod.py").write_text(textwrap.dedent(tests))
    selection = discover_tests(tmp_path, tmp_path / "mod.py", function)
    target = ExecutionTarget(project_root=tmp_path, file=tmp_path / "mod.py", function=function, tests=selection, limits=LIMITS)
    executor = PytestExecutor(target)
    original = executor.run(module)
    assert original.passed == original.total > 0 and original.capture and original.capture.usable
    return executor


# -- the interval ----------------------------------------------------------------------------


def test_the_median_interval_holds_the_true_ratio_about_95_percent_of_the_time():
    rng = random.Random(7)
    held = 0
    for _ in range(400):
        original = [[1.0 * rng.lognormvariate(0, 0.1) for _ in range(9)] for _ in range(3)]
        candidate = [[0.5 * rng.lognormvariate(0, 0.1) for _ in range(9)] for _ in range(3)]
        found = speedup.estimate(original, candidate)
        held += found.low <= 2.0 <= found.high
    assert 0.93 <= held / 400 <= 1.0


def test_too_few_rounds_give_no_figure_and_an_outlier_round_moves_nothing():
    assert speedup.estimate([[1.0] * 5], [[0.5] * 5]).speedup is None
    steady = speedup.estimate([[1.0] * 8 + [50.0]], [[0.5] * 9])  # one round hit by an interrupt
    assert steady.speedup == pytest.approx(2.0)
    assert speedup.order_statistic_rank(6) == 1 and speedup.order_statistic_rank(10) == 2


def test_calls_under_ten_microseconds_need_a_higher_bar():
    quick = PerCallBenchmark(original_seconds=[2e-6, 3e-6, 4e-6])
    slow = PerCallBenchmark(original_seconds=[2e-3])
    assert per_call_bar(quick, 1.05) == pytest.approx(1.10) and per_call_bar(slow, 1.05) == pytest.approx(1.05)


def test_a_saving_the_kernel_does_not_see_is_unconfirmed():
    claimed = PerCallBenchmark(
        original_seconds=[1e-3], candidate_seconds=[1e-5], passes=2000, alone_cpu=(3.0, 3.1), alone_wall=(3.2, 3.3)
    )
    assert "went from 3.200 s to 3.300 s" in per_call_unconfirmed(claimed)
    borne_out = PerCallBenchmark(
        original_seconds=[1e-3], candidate_seconds=[1e-5], passes=2000, alone_cpu=(3.0, 1.1), alone_wall=(3.2, 1.3)
    )
    assert per_call_unconfirmed(borne_out) == ""
    assert "did not complete" in per_call_unconfirmed(PerCallBenchmark(passes=5, alone_wall=(1.0, None)))
    stopped = PerCallBenchmark(passes=5, alone_wall=(None, 1.0), alone_note="the original's: timeout")
    assert per_call_unconfirmed(stopped) == "the original's run alone did not complete (the original's: timeout)"


# -- the real sandbox ------------------------------------------------------------------------


def test_a_known_per_call_speedup_is_reported_within_a_quarter_of_timeit(tmp_path):
    with executor_for(tmp_path, TOTAL, TOTAL_TESTS, "total") as executor:
        bench = executor.benchmark(TOTAL_FAST, seconds=3.0)
    namespace: dict = {}
    exec(TOTAL, namespace)  # noqa: S102 - the test's own code
    slow = namespace["total"]
    exec(TOTAL_FAST, namespace)  # noqa: S102
    fast = namespace["total"]
    inputs = [[1, 2, 3], list(range(10)), list(range(40)), list(range(80))]
    # The reference interleaves the two the way the benchmark does (a ratio per round, its median):
    # two separate timeit runs, one after the other, see whatever the machine did in between.
    ratios = []
    for _ in range(9):
        slow_time = timeit.timeit(lambda: [slow(x) for x in inputs], number=2000)
        ratios.append(slow_time / timeit.timeit(lambda: [fast(x) for x in inputs], number=2000))
    reference = statistics.median(ratios)
    assert bench is not None and bench.speedup is not None, bench
    assert bench.calls == 4 and bench.rounds >= speedup.MIN_ROUNDS
    assert bench.low <= bench.speedup <= bench.high
    assert abs(bench.speedup / reference - 1) <= 0.25, (bench.describe(), reference)
    assert bench.median_call_seconds < 10e-6  # microseconds: the case whole test runs cannot see


def test_the_same_code_reformatted_is_never_clear_of_the_bar(tmp_path):
    with executor_for(tmp_path, TOTAL, TOTAL_TESTS, "total") as executor:
        for _ in range(3):
            bench = executor.benchmark(TOTAL_REFORMATTED, seconds=1.5)
            assert bench is not None and bench.speedup is not None, bench
            assert bench.low < per_call_bar(bench, 1.05), bench.describe()


def test_a_candidate_that_slows_the_original_in_its_process_is_not_confirmed_from_outside(tmp_path):
    """At its first call the candidate makes `range` slow for everyone but itself: beside it, the
    original looks many times slower. Run alone, in its own copy, the original is as fast as ever."""
    module = "def doubled(xs):\n    return [xs[i] * 2 for i in range(len(xs))]\n"
    tests = "from mod import doubled\n\ndef test():\n    assert doubled([1, 2]) == [2, 4]\n    assert doubled(list(range(30)))[-1] == 58\n"
    slowing = textwrap.dedent("""\
        def doubled(xs):
            import builtins
            if not hasattr(builtins, "_orps_fast_range"):
                fast = builtins.range
                def slow(*args):
                    for _ in fast(3000):
                        pass
                    return fast(*args)
                builtins._orps_fast_range = fast
                builtins.range = slow
            return [x * 2 for x in xs]
        """)
    with executor_for(tmp_path, module, tests, "doubled") as executor:
        bench = executor.benchmark(slowing, seconds=2.0)
        assert bench is not None and bench.speedup is not None and bench.low > 3, bench
        executor.confirm_benchmark(slowing, bench)
    assert bench.passes > 0 and "the kernel counted" in per_call_unconfirmed(bench), bench


def test_a_cache_is_cleared_before_every_call_and_a_hand_made_memo_is_said(tmp_path):
    """The benchmark repeats each call: a memo would answer every repeat but the first from
    memory. functools caches are cleared before each call; a dict the module fills is said."""
    module = "def square_sum(n):\n    return sum(i * i for i in range(n))\n"
    tests = "from mod import square_sum\n\ndef test():\n    assert square_sum(3) == 5\n    assert square_sum(300) > 0\n"
    cached = "import functools\n\n\n@functools.lru_cache(maxsize=None)\n" + module
    memo = (
        "_seen = {}\n\n\ndef square_sum(n):\n    if n not in _seen:\n"
        "        _seen[n] = sum(i * i for i in range(n))\n    return _seen[n]\n"
    )
    with executor_for(tmp_path, module, tests, "square_sum") as executor:
        same_work = executor.benchmark(cached, seconds=1.5)
        remembered = executor.benchmark(memo, seconds=1.5)
    assert same_work.speedup is not None and not same_work.state, same_work
    assert same_work.low < 1.05, same_work.describe()
    assert "keeps more after each new call" in remembered.state, remembered


def test_a_candidate_that_answers_wrong_only_when_timed_is_refused(tmp_path):
    """Its answers in the tests and the replay are the original's; timed, it returns at once.
    The answers given while timed are sampled at random and checked against the original's."""
    knowing = textwrap.dedent("""\
        def total(xs):
            import sys
            if "benchmark" in sys._getframe(1).f_code.co_filename:
                return 0
            return sum(xs)
        """)
    with executor_for(tmp_path, TOTAL, TOTAL_TESTS, "total") as executor:
        report = executor.run(knowing)
        bench = executor.benchmark(knowing, seconds=1.5)
    assert report.passed == report.total and report.behaviour and not report.behaviour.different
    assert bench.speedup is None and "while timed, total([1, 2, 3]) returned 0" in bench.different, bench


# -- the final pick -------------------------------------------------------------------------


def _search(tmp_path: Path, module: str, tests: str, function: str, answer_body: str, executor=None, seed=0):
    """A one-candidate search whose scripted programmer answers `answer_body` (after the prefilled def line)."""
    (tmp_path / "mod.py").write_text(module)
    (tmp_path / "test_mod.py").write_text(tests)
    file = tmp_path / "mod.py"
    model = ScriptedModel(lambda messages, prefill: answer_body + "\n```\n")
    config = SearchConfig(beam_width=1, expansions=1, depth=1, use_critic=False, finalists=1, seed=seed, benchmark_seconds=1.5)
    task = SearchTask(mode="optimize", file=str(file), source=module, function=find_function(module, function))
    if executor is not None:
        return run_search(task, model, executor, config)
    target = ExecutionTarget(
        project_root=tmp_path, file=file, function=function, limits=LIMITS, tests=discover_tests(tmp_path, file, function)
    )
    with PytestExecutor(target) as real:
        return run_search(task, model, real, config)


def test_a_search_offers_a_per_call_speedup_with_its_interval(tmp_path):
    result = _search(tmp_path, TOTAL, TOTAL_TESTS, "total", "    return sum(xs)")
    assert result.improved, result.verdict
    assert re.search(r"improved: \d+\.\d\dx faster per call \(95% CI \d+\.\d\d-\d+\.\d\dx\) over 4 calls", result.verdict)
    chosen = next(n for n in result.nodes if n.execution and n.execution.per_call)
    assert chosen.execution.per_call.passes > 0  # checked from outside before it was offered


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_search_never_offers_the_same_code_reformatted(tmp_path, seed):
    body = "    acc = 0\n    for v in xs:\n        acc = acc + v\n    return acc"
    result = _search(tmp_path, TOTAL, TOTAL_TESTS, "total", body, seed=seed)
    assert not result.improved, result.verdict
    assert "per call (95% CI" in result.verdict, result.verdict


def test_an_interval_that_straddles_the_bar_offers_nothing(tmp_path):
    class Straddling(ScriptedExecutor):
        def benchmark(self, module_source, *, seconds, scaling=0.0):
            return PerCallBenchmark(
                calls=12,
                timed=list(range(12)),
                rounds=20,
                speedup=1.08,
                low=1.01,
                high=1.15,
                original_seconds=[1e-3] * 12,
                candidate_seconds=[0.93e-3] * 12,
            )

    def judge(source):
        return fake_report(5, 5, cpu=0.5 if "sum(xs)" in source else 1.0)

    result = _search(tmp_path, TOTAL, TOTAL_TESTS, "total", "    return sum(xs)", executor=Straddling(judge))
    assert not result.improved
    assert (
        "1.08x faster per call (95% CI 1.01-1.15x) over 12 calls: its interval reaches below the 1.05x needed" in result.verdict
    ), result.verdict


# -- what the model is told ------------------------------------------------------------------


def test_the_model_is_told_where_the_original_spends_its_time_and_each_candidates_per_call_figure(tmp_path):
    """The first prompt names the original's hot lines (line profile on the captured calls);
    the refinement prompt carries the first candidate's per-call figure."""
    prompts_seen: list[str] = []
    answers = ["    acc = 0\n    for v in xs:\n        acc = acc + v\n    return acc", "    return sum(xs)"]

    def programmer(messages, prefill):
        prompts_seen.append("\n".join(m["content"] for m in messages))
        return answers[len(prompts_seen) - 1] + "\n```\n"

    (tmp_path / "mod.py").write_text(TOTAL)
    (tmp_path / "test_mod.py").write_text(TOTAL_TESTS)
    file = tmp_path / "mod.py"
    config = SearchConfig(beam_width=1, expansions=1, depth=2, use_critic=False, finalists=1, benchmark_seconds=1.5)
    task = SearchTask(mode="optimize", file=str(file), source=TOTAL, function=find_function(TOTAL, "total"))
    target = ExecutionTarget(
        project_root=tmp_path, file=file, function="total", limits=LIMITS, tests=discover_tests(tmp_path, file, "total")
    )
    with PytestExecutor(target) as real:
        result = run_search(task, ScriptedModel(programmer), real, config)
    profile = result.original.line_profile
    assert profile is not None and not profile.note and profile.passes > 0, profile
    loop = max(profile.lines, key=lambda cost: cost.seconds)
    assert loop.text in ("for x in xs:", "s += x") and loop.hits > 0
    assert "Where its time goes" in prompts_seen[0] and f"`{loop.text}`" in prompts_seen[0], prompts_seen[0]
    first = next(n for n in result.nodes if n.depth == 0)
    assert first.execution.per_call is not None and first.execution.per_call.speedup, first.execution.per_call
    assert len(prompts_seen) == 2 and re.search(
        r"timed per call beside the original: \d+\.\d\dx (faster|slower) per call \(95% CI", prompts_seen[1]
    ), prompts_seen[1:]


# -- growth ----------------------------------------------------------------------------------

CONTAINS = """\
def contains_all(xs, ys):
    seen = set(xs)
    return all(y in seen for y in ys)
"""
CONTAINS_TESTS = """\
from mod import contains_all

def test_small():
    assert contains_all([1, 2, 3], [3, 1])
    assert not contains_all([1, 2, 3], [4])
    assert contains_all(list(range(6)), [5, 0, 2, 4])
"""
# No set to build: faster on three items, quadratic on three hundred.
CONTAINS_QUADRATIC = "def contains_all(xs, ys):\n    return all(y in xs for y in ys)\n"


def test_grown_calls_keep_what_relates_their_arguments():
    args, kwargs = scaling.grown([[1, 2, 3], (3, 1), "ab"], {"k": 2}, 4)
    xs, ys, text = args
    assert xs == sorted(set(xs)) and len(xs) == 12  # still sorted, still distinct
    assert all(y in xs for y in ys) and len(ys) == 8 and isinstance(ys, tuple)  # still contained
    assert text == "ab" * 4 and kwargs == {"k": 2}  # a count beside a sequence is left alone
    assert scaling.grown([30], {}, 4) == ([120], {})  # a count alone grows
    assert scaling.grown([{"a": 1}, None, True], {}, 4) is None  # nothing grows
    assert scaling.size([[1, 2], "abc"], {}) == 5


def test_a_candidate_faster_on_the_tests_inputs_but_slower_on_larger_ones_is_said(tmp_path):
    with executor_for(tmp_path, CONTAINS, CONTAINS_TESTS, "contains_all") as executor:
        quadratic = executor.benchmark(CONTAINS_QUADRATIC, seconds=1.5, scaling=1.0)
        linear = executor.benchmark(CONTAINS.replace("seen = set(xs)", "seen = frozenset(xs)"), seconds=1.5, scaling=1.0)
    assert quadratic is not None and quadratic.speedup is not None and quadratic.scaling is not None, quadratic
    growth = quadratic.scaling
    assert growth.slower_when_larger(), growth.describe()
    original, candidate = growth.exponents()
    assert candidate > original + 0.4, growth.describe()
    assert "slower on larger inputs" in scaling_warning(quadratic)
    assert linear is not None and linear.scaling is not None and linear.scaling.measured, linear
    assert not linear.scaling.slower_when_larger() and scaling_warning(linear) == "", linear.scaling.describe()


@pytest.mark.parametrize("setting", ["warn", "refuse"])
def test_a_finalist_slower_on_larger_inputs_is_warned_of_or_refused(tmp_path, setting):
    growth = Scaling(
        calls=[
            ScaledCall(
                index=0, sizes=[5, 20, 80], original_seconds=[2e-3, 8e-3, 3.2e-2], candidate_seconds=[1e-3, 1.6e-2, 2.56e-1]
            )
        ]
    )

    class Growing(ScriptedExecutor):
        def benchmark(self, module_source, *, seconds, scaling=0.0):
            return PerCallBenchmark(
                calls=5,
                timed=list(range(5)),
                rounds=20,
                speedup=2.0,
                low=1.9,
                high=2.1,
                original_seconds=[2e-3] * 5,
                candidate_seconds=[1e-3] * 5,
                scaling=growth if scaling else None,
            )

        def confirm_benchmark(self, module_source, bench, *, heavy_only=False):
            bench.passes, bench.alone_cpu, bench.alone_wall = 500, (3.0, 0.6), (3.1, 0.7)

    def judge(source):
        return fake_report(5, 5, cpu=0.5 if "sum(xs)" in source else 1.0)

    (tmp_path / "mod.py").write_text(TOTAL)
    config = SearchConfig(beam_width=1, expansions=1, depth=1, use_critic=False, finalists=1, scaling=setting)
    task = SearchTask(mode="optimize", file=str(tmp_path / "mod.py"), source=TOTAL, function=find_function(TOTAL, "total"))
    model = ScriptedModel(lambda messages, prefill: "    return sum(xs)\n```\n")
    result = run_search(task, model, Growing(judge), config)
    said = "slower on larger inputs than the tests': original ~n^1.0, candidate ~n^2.0; at 16x the tests' sizes 8.00x slower"
    assert said in result.verdict, result.verdict
    if setting == "warn":
        assert result.improved and [w.code for w in result.warnings] == [WarningCode.SCALING], result.warnings
    else:
        assert not result.improved and result.verdict.startswith("nothing offered"), result.verdict


# -- instructions of the function alone --------------------------------------------------------


@pytest.mark.skipif(instructions.available_counter() == "none", reason="needs perf or valgrind")
def test_instructions_of_the_function_alone_leave_start_up_out(tmp_path):
    """Counted from outside with the harness's own count subtracted, a rewrite's instructions
    per call show its saving, and the same code reformatted counts the same (a whole run's
    count is mostly pytest's: there they would both read about 1.00x)."""
    with executor_for(tmp_path, TOTAL, TOTAL_TESTS, "total") as executor:
        fast = executor.benchmark(TOTAL_FAST, seconds=1.0)
        executor.count_instructions_per_call(TOTAL_FAST, fast)
        same = executor.benchmark(TOTAL_REFORMATTED, seconds=1.0)
        executor.count_instructions_per_call(TOTAL_REFORMATTED, same)
    assert fast.instruction_ratio() is not None and fast.instruction_ratio() > 1.5, (fast.instructions, fast.instruction_note)
    assert same.instruction_ratio() == pytest.approx(1.0, abs=0.01), same.instructions  # 0.97 with chunks sized per run
    assert "fewer instructions per call" in fast.describe()


def test_a_close_call_is_settled_by_the_instructions_of_the_function(tmp_path):
    """The interval straddles the bar: counted instructions that clear it offer the candidate;
    counted instructions that do not leave "nothing better"."""

    def search_with(ratio: float):
        class Close(ScriptedExecutor):
            def benchmark(self, module_source, *, seconds, scaling=0.0):
                return PerCallBenchmark(
                    calls=12,
                    timed=list(range(12)),
                    rounds=20,
                    speedup=1.08,
                    low=1.01,
                    high=1.15,
                    original_seconds=[1e-3] * 12,
                    candidate_seconds=[0.93e-3] * 12,
                )

            def count_instructions_per_call(self, module_source, bench):
                bench.instructions, bench.instruction_counter = (1000.0, 1000.0 / ratio), "valgrind"

            def confirm_benchmark(self, module_source, bench, *, heavy_only=False):
                bench.passes, bench.alone_cpu, bench.alone_wall = 500, (3.0, 2.5), (3.1, 2.6)

        def judge(source):
            return fake_report(5, 5, cpu=0.5 if "sum(xs)" in source else 1.0)

        return _search(tmp_path, TOTAL, TOTAL_TESTS, "total", "    return sum(xs)", executor=Close(judge))

    settled = search_with(1.20)
    assert settled.improved and "1.20x fewer instructions per call (valgrind" in settled.verdict, settled.verdict
    unsettled = search_with(1.02)
    assert not unsettled.improved and "interval reaches below the 1.05x needed" in unsettled.verdict, unsettled.verdict


# -- workloads -------------------------------------------------------------------------------

BENCHMARK_FIXTURE = "import pytest\n\n@pytest.fixture\ndef benchmark():\n    return lambda f, *a: f(*a)\n"


def test_a_workloads_calls_are_captured_and_timed_besides_the_unit_tests(tmp_path):
    """A pytest-benchmark test among the judged files, and a workload named by the user, run in
    the capture run only: their calls join the oracle and the benchmark's inputs; neither judges."""
    (tmp_path / "pytest_benchmark").mkdir()
    (tmp_path / "pytest_benchmark" / "__init__.py").write_text("")
    (tmp_path / "pytest_benchmark" / "plugin.py").write_text(BENCHMARK_FIXTURE)  # as pytest-benchmark registers it
    (tmp_path / "conftest.py").write_text("pytest_plugins = ['pytest_benchmark.plugin']\n")
    (tmp_path / "workload").mkdir()
    (tmp_path / "workload" / "production.py").write_text(
        "from mod import total\n\ndef test_production():\n    total(list(range(20000)))\n"
    )
    tests = TOTAL_TESTS + "\ndef test_speed(benchmark):\n    benchmark(total, list(range(3000)))\n"
    (tmp_path / "mod.py").write_text(TOTAL)
    (tmp_path / "test_mod.py").write_text(tests)
    file = tmp_path / "mod.py"
    figures = {}
    for workload in ([], ["workload/production.py::test_production"]):
        selection = discover_tests(tmp_path, file, "total")
        selection.workload = workload
        target = ExecutionTarget(project_root=tmp_path, file=file, function="total", tests=selection, limits=LIMITS)
        with PytestExecutor(target) as executor:
            original = executor.run(TOTAL)
            bench = executor.benchmark(TOTAL_FAST, seconds=1.0)
        assert {t.nodeid for t in original.tests} == {"test_mod.py::test_small", "test_mod.py::test_more"}
        figures[bool(workload)] = (original.capture.usable, bench)
    (plain, plain_bench), (loaded, loaded_bench) = figures[False], figures[True]
    assert plain == 5 and loaded == 6, (plain, loaded)  # 4 unit-test calls, the benchmark test's, the workload's
    assert plain_bench.calls == 5 and loaded_bench.calls == 6
    assert max(loaded_bench.original_seconds) > 5 * max(plain_bench.original_seconds)  # the workload's call is there


def test_a_workload_that_is_not_in_the_project_is_bad_input(tmp_path):
    (tmp_path / "mod.py").write_text(TOTAL)
    (tmp_path / "test_mod.py").write_text(TOTAL_TESTS)
    request = engine.SearchRequest(
        file=tmp_path / "mod.py", function="total", project_root=tmp_path, workload=["bench/missing.py::test_big"]
    )
    with pytest.raises(engine.InputError, match="workload 'bench/missing.py::test_big': no such test file"):
        engine.prepare(request)


def test_a_figure_over_the_quick_calls_says_the_heavy_ones_were_left_out(tmp_path):
    """One captured call too heavy to time per call in the time given: the figure is over the
    others and says so, in the benchmark that found it slow and in the next (which skips it)."""
    heavy_tests = TOTAL_TESTS + "\ndef test_heavy():\n    assert total(range(3_000_000)) == 3_000_000 * 2_999_999 // 2\n"
    with executor_for(tmp_path, TOTAL, heavy_tests, "total") as executor:
        first = executor.benchmark(TOTAL_FAST, seconds=0.5)
        second = executor.benchmark(TOTAL_FAST, seconds=0.5)
    for bench in (first, second):
        assert bench.speedup is not None and bench.calls == 4, bench.describe()
        assert "over 4 calls (1 more too slow to time per call in the time given)" in bench.describe()


# -- the tests' heavy calls (too slow to time per call) ---------------------------------------

HEAVY_TESTS = TOTAL_TESTS + "\ndef test_heavy():\n    assert total(range(12_000_000)) == 12_000_000 * 11_999_999 // 2\n"


def test_a_rewrite_that_pays_only_on_the_heavy_call_is_offered_on_it(tmp_path):
    """No faster per call on the quick calls (slower, even), many times faster on the call too
    heavy to time per call: timed beside the original (and made in each version's run alone), that call decides."""
    body = "    if len(xs) > 100_000:\n        return sum(xs)\n    s = 0\n    for x in list(xs):\n        s = s + x\n    return s"
    result = _search(tmp_path, TOTAL, HEAVY_TESTS, "total", body)
    assert result.improved, result.verdict
    assert re.search(
        r"improved: \d+\.\d\dx faster on the 1 call too slow to time per call, timed beside the "
        r"original \(\d\.\d\d s -> [\d.]+ m?s\); on the others .* over 4 calls",
        result.verdict,
    ), result.verdict


def test_a_rewrite_faster_on_the_quick_calls_but_slower_on_the_heavy_one_is_not_offered(tmp_path):
    body = (
        "    if len(xs) > 100_000:\n        s = 0\n        for x in xs:\n            s = s + sum((x,))\n"
        "        return s\n    return sum(xs)"
    )
    result = _search(tmp_path, TOTAL, HEAVY_TESTS, "total", body)
    assert not result.improved, result.verdict
    assert "slower on the calls too slow to time per call (timed beside the original)" in result.verdict, result.verdict


def test_the_same_code_reformatted_is_not_offered_on_the_heavy_call_either(tmp_path):
    """Made once per version with no interval, the heavy call needs a clear margin: a copy's
    run-to-run noise never reaches it."""
    body = "    acc = 0\n    for v in xs:\n        acc = acc + v\n    return acc"
    result = _search(tmp_path, TOTAL, HEAVY_TESTS, "total", body)
    assert not result.improved, result.verdict
    assert "on the 1 call too slow to time per call, timed beside the original" in result.verdict, result.verdict


BUSY = "import time\n\ndef spin(seconds):\n    start = time.perf_counter()\n    while time.perf_counter() - start < seconds:\n        pass\n    return seconds\n"


def test_one_large_call_does_not_crowd_the_quick_ones_out_of_the_figure():
    """Five quick calls and one whose rounds alone would fill the time: the quick ones are all
    timed and the large one is named for timing beside the original. (A spread of the calls
    that fit, as before, left quick calls out unsaid and could rest the figure on one empty call.)"""
    original, candidate = types.ModuleType("spinmod"), types.ModuleType("spinmod")
    exec(BUSY, vars(original))  # noqa: S102 - the test's own code
    exec(BUSY, vars(candidate))  # noqa: S102
    blobs = [base64.b64encode(pickle.dumps(((seconds,), {}))).decode() for seconds in (0, 0, 0, 0, 0, 0.06)]
    found = benchmark.compare(original, candidate, "spin", blobs, seconds=0.5, limit=10, alarm=lambda s: None)
    assert found["timed"] == [0, 1, 2, 3, 4] and found["slow"] == [5], found.get("note")
    assert found["slow_seconds"][0] >= 0.06


def test_every_captured_call_of_the_example_is_timed_per_call_or_beside(example_project):
    """The example's seven calls (five quick, two of 1500 items): each is in the per-call figure
    or among the calls timed beside the original; none is left out unsaid."""
    file = example_project / "slowmath.py"
    target = ExecutionTarget(
        project_root=example_project,
        file=file,
        function="has_duplicates",
        limits=LIMITS,
        tests=discover_tests(example_project, file, "has_duplicates"),
    )
    fast = file.read_text().replace(
        "    for i in range(len(items)):\n        for j in range(len(items)):\n            if i != j and items[i] == items[j]:"
        "\n                return True\n    return False",
        "    return len(set(items)) != len(items)",
    )
    with PytestExecutor(target) as executor:
        original = executor.run(file.read_text())
        # The default time: enough for a large call's own rounds, not for all the calls' together.
        bench = executor.benchmark(fast, seconds=3.0)
        executor.time_heavy_calls(fast, bench)
    captured = original.capture.usable
    assert captured == 7, original.capture
    assert sorted(bench.timed + bench.heavy) == list(range(captured)), bench.describe()
    assert bench.speedup is not None and not bench.different, bench.describe()


def test_a_candidate_whose_run_on_the_heavy_calls_does_not_finish_is_not_passed(tmp_path):
    """Far slower than the original on a call too slow to time per call (here: said to take
    the original no time, and the candidate sleeps): its run is stopped, and that counts
    against it, not as a call left untimed."""
    slow_on_large = "import time\n\ndef total(xs):\n    if len(xs) > 50:\n        time.sleep(3)\n    return sum(xs)\n"
    with executor_for(tmp_path, TOTAL, TOTAL_TESTS, "total") as executor:
        bench = PerCallBenchmark(calls=3, timed=[0, 1, 2], speedup=2.0, low=1.9, high=2.1, slow=[3], slow_seconds=[0.0])
        executor.time_heavy_calls(slow_on_large, bench)
    assert bench.heavy_original is None and bench.different.startswith("on the calls too slow to time per call: "), (
        bench.different,
        bench.heavy_note,
    )


def test_the_heavy_calls_figure_reads_before_or_after_the_per_call_one():
    bench = PerCallBenchmark(
        calls=3,
        timed=[0, 1, 2],
        speedup=1.02,
        low=0.99,
        high=1.05,
        slow=[3],
        slow_seconds=[0.13],
        heavy=[3],
        heavy_original=(0.13, 0.13),
        heavy_candidate=(0.002, 0.002),
    )
    assert bench.describe() == (
        "1.02x faster per call (95% CI 0.99-1.05x) over 3 calls; on the 1 call too slow to "
        "time per call, timed beside the original: 0.13 s -> 2 ms (65.00x faster)"
    )
    assert bench.describe(heavy_first=True).startswith(
        "65.00x faster on the 1 call too slow to time per call, timed beside the original (0.13 s -> 2 ms); on the others 1.02x"
    )
    untimed = PerCallBenchmark(calls=3, timed=[0, 1, 2], speedup=1.02, low=0.99, high=1.05, slow=[3])
    assert untimed.describe().endswith("over 3 calls (1 more too slow to time per call in the time given)")
