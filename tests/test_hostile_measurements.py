"""No faked speed, no faked memory: candidates that pass the tests while forging what
measures them (tests/hostile/forgeries.py), each judged beside the original in one
real executor, under the strongest layer here and under "none"."""

from __future__ import annotations

import re
import shutil
import textwrap
from statistics import median
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile.cases import AT_IMPORT, at_first_call
from hostile.forgeries import EXAMPLE, FORGERIES, TWICE, Forgery, module

from orps_lsp.config import SearchConfig
from orps_lsp.discovery import discover_tests
from orps_lsp.executor import ExecutionTarget, SandboxLimits
from orps_lsp.report import ExecutionReport
from orps_lsp.model.scripted import ScriptedModel
from orps_lsp.sandbox import isolation
from orps_lsp.sandbox.executor import PytestExecutor
from orps_lsp.scoring import passes_guard
from orps_lsp.search import SearchTask, run_search
from orps_lsp.source import find_function

LAYERS = list(dict.fromkeys([isolation.available_layers()[0], "none"]))
LIMITS = SandboxLimits(per_test_timeout=10, total_timeout=60, memory_mb=1024, cpu_seconds=60)


@pytest.fixture(scope="module", params=LAYERS)
def judged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """The executor, and the original as it measured (best of three runs)."""
    root = tmp_path_factory.mktemp("slowmath")
    shutil.copytree(EXAMPLE.parent, root, dirs_exist_ok=True)
    file = root / "slowmath.py"
    target = ExecutionTarget(
        project_root=root, file=file, function="has_duplicates", limits=LIMITS, tests=discover_tests(root, file, "has_duplicates")
    )
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("ORPS_ISOLATION", request.param)
    with PytestExecutor(target) as executor:
        original = executor.run(file.read_text(), repeats=3)
        assert original.passed == original.total == 6 and original.cpu_time, original
        yield executor, original
    monkeypatch.undo()


@pytest.mark.parametrize("forgery", [f for f in FORGERIES if f.at_import], ids=[f.name for f in FORGERIES if f.at_import])
def test_a_forgery_at_import_is_not_run(judged: tuple, forgery: Forgery) -> None:
    executor, original = judged
    report: ExecutionReport = executor.run(module(forgery))
    assert re.search(AT_IMPORT, report.error), report.error
    assert report.passed == 0 and not passes_guard(original, report)


@pytest.mark.parametrize("forgery", FORGERIES, ids=[f.name for f in FORGERIES])
def test_a_forgery_cannot_make_itself_look_cheaper(judged: tuple, forgery: Forgery) -> None:
    """The same forgeries, run when the tests first call the function."""
    executor, original = judged
    report: ExecutionReport = executor.run(at_first_call(module(forgery), "has_duplicates"), repeats=3)
    if forgery.forges == "tamper":
        assert not passes_guard(original, report), report
        assert "tamper" in (report.error or "").lower() or "replaced" in (report.error or ""), report.error
        return
    # It gives the original's answers: judged on its figures alone.
    assert report.passed == report.total == 6 and passes_guard(original, report), report.error
    if forgery.forges == "time":
        # Really twice as slow; forged, 400x to 1000x faster (or frozen at zero). A margin of 4x.
        assert report.cpu_time >= original.cpu_time / 2, (report.cpu_time, original.cpu_time)
        assert report.wall_time >= original.wall_time / 2, (report.wall_time, original.wall_time)
    elif forgery.forges == "offload":
        # The test process's own CPU clock sees little of the work: that is the forgery. How long
        # the run took, measured by the executor, sees all of it (and so does the kernel's CPU
        # count where the run has a cgroup v2 of its own); the final pick re-checks large claims with them.
        assert report.outside_wall_times and report.outside_cpu_times, report
        assert median(report.outside_wall_times) >= 0.9 * median(original.outside_wall_times)
    else:  # memory: it holds 300 MiB and says 1 MiB
        assert report.peak_rss_kb and report.peak_rss_kb >= 300 * 1024, report.peak_rss_kb


@pytest.mark.parametrize("forgery", FORGERIES, ids=[f.name for f in FORGERIES])
def test_a_forgery_is_not_faster_when_its_function_is_timed(judged: tuple, forgery: Forgery) -> None:
    """The same forgeries, their function timed beside the original's on the captured calls
    (benchmark.py): really twice as slow, they are never clear of the bar."""
    executor, _ = judged
    bench = executor.benchmark(at_first_call(module(forgery), "has_duplicates"), seconds=1.5)
    assert bench is not None
    if forgery.forges == "tamper":
        assert "tampered" in bench.different and bench.speedup is None, bench
        return
    assert bench.speedup is not None and not bench.different, bench
    assert bench.high < 1.0, bench.describe()


OFFLOADED = next(f for f in FORGERIES if f.forges == "offload")


def test_a_search_does_not_offer_work_moved_out_of_the_judged_process(tmp_path: Path) -> None:
    """End to end: a scripted model answers the offloading forgery; the test process's CPU clock
    says many times faster; its function timed per call (wall clock) and the kernel do not:
    nothing is offered."""
    shutil.copytree(EXAMPLE.parent, tmp_path, dirs_exist_ok=True)
    file = tmp_path / "slowmath.py"
    body = textwrap.dedent(OFFLOADED.function).strip("\n").split("\n", 1)[1]  # after the def line (the prefill)
    answer = (
        body
        + "\n\n"
        + textwrap.dedent(OFFLOADED.source)
        + "\n\n"
        + TWICE.replace("def has_duplicates(", "def _twice(", 1)
        + "\n```\n"
    )
    model = ScriptedModel(lambda messages, prefill: answer)
    config = SearchConfig(
        beam_width=1, expansions=1, depth=1, use_critic=False, finalists=1, timing_repeats=3, instruction_counter="none"
    )
    target = ExecutionTarget(
        project_root=tmp_path,
        file=file,
        function="has_duplicates",
        limits=LIMITS,
        tests=discover_tests(tmp_path, file, "has_duplicates"),
    )
    source = file.read_text()
    task = SearchTask(mode="optimize", file=str(file), source=source, function=find_function(source, "has_duplicates"))
    with PytestExecutor(target) as executor:
        result = run_search(task, model, executor, config)
    executed = [n for n in result.nodes if n.execution is not None and n.execution.passed == 6]
    assert executed, [(n.execution.error if n.execution else n.invalid_reason, n.code) for n in result.nodes]
    claimed = executed[0].execution
    assert not result.improved, result.verdict
    assert claimed.per_call and claimed.per_call.high < 1.0, (result.verdict, claimed.per_call)
    assert "slower per call" in result.verdict, result.verdict
