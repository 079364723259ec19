"""The final pick: never a regression, and faster only when measured so.

Search-time timings come from one run each on a noisy machine. Where the original's
calls were captured, each of the few fastest guarded candidates has its function timed
beside the original's on those calls (sandbox/benchmark.py): faster only when the lower
end of the 95% interval clears the bar, and only when runs of each version alone, counted
by the kernel, bear the saving out. Where nothing was captured, the candidates and the
original are measured again together as whole test runs (best of several; whole runs are
counted under valgrind only when the setting says "valgrind": pytest's start-up dwarfs the
function there). A per-call close call (the figure clears the bar, its interval does not)
is settled by the instructions of the function alone, counted from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from .cancel import CancelToken
from .config import SearchConfig
from .extract import code_fingerprint
from .report import BehaviourCheck, CrossCheck, ExecutionReport, Node, PerCallBenchmark, SearchReport
from .sandbox.speedup import median as _median
from .scoring import CPU_RESOLUTION, passes_guard, usable_per_call
from .scoring import speedup as measured_speedup


class Lab(Protocol):
    """What the final pick needs from the search: the original's report, the settings, the time
    left, and the measurements it asks for (search_lab.SearchLab provides them; tests script them).
    Read only: plain attributes satisfy it as well as properties."""

    @property
    def config(self) -> SearchConfig: ...
    @property
    def cancel(self) -> CancelToken: ...
    @property
    def original(self) -> ExecutionReport: ...
    @property
    def mode(self) -> str: ...  # "optimize" or "solve"
    @property
    def original_source(self) -> str: ...
    @property
    def verified(self) -> bool: ...  # the candidates ran against tests (else the critic alone judged them)

    def seconds_left(self) -> float: ...
    def seconds_per_run(self) -> float: ...
    def module_for(self, node: Node) -> str: ...
    def is_the_original(self, node: Node) -> bool: ...
    def timed_run(self, source: str, **options: Any) -> ExecutionReport: ...
    def cross_check(self, node: Node) -> CrossCheck | None: ...
    def benchmark(self, node: Node, share: float = 1.0, scaling: bool = False) -> PerCallBenchmark | None: ...
    def time_heavy_calls(self, node: Node, bench: PerCallBenchmark) -> None: ...
    def confirm_benchmark(self, node: Node, bench: PerCallBenchmark, *, heavy_only: bool = False) -> None: ...
    def count_instructions_per_call(self, node: Node, bench: PerCallBenchmark) -> None: ...


# A claimed saving of this many seconds per run, or more, is re-checked with the figures taken
# outside the test process (report.outside_cpu_times / outside_wall_times): at least half of
# it must show there, within SLACK (the wait loop's poll, the noise of a whole run).
RECHECK_SECONDS = 0.1
RECHECK_SLACK_SECONDS, RECHECK_SLACK_SHARE = 0.05, 0.05
# Calls this short are mostly the harness's and the clock's noise: a higher bar for them.
FAST_CALL_SECONDS, FAST_CALL_MIN_SPEEDUP = 10e-6, 1.10
CPU_BOUND = 0.8  # a run whose CPU time is this share of its length is CPU-bound
# The tests' heavy calls (too slow to time per call) are timed beside the original twice per
# version, with no interval, so a rewrite must be clearly faster there to be offered on them
# (HEAVY_MIN_SPEEDUP), and one faster on the quick calls may be this much slower on them at most.
HEAVY_MIN_SPEEDUP, HEAVY_SLOWER = 1.25, 1.10
HEAVY_HOPEFULS = 2
_VALGRIND_SLOWDOWN = 40


@dataclass
class Decision:
    node: Node | None
    improved: bool
    verdict: str
    original_remeasured: ExecutionReport | None = None
    partial: bool = False  # a solve that passes only some of the tests


def _ran(node: Node) -> ExecutionReport:
    """The report of a node the guard let through: only nodes that ran get that far."""
    assert node.execution is not None, f"candidate {node.id} judged without having run"
    return node.execution


def _difference(report: ExecutionReport) -> str:
    """The first difference found between a candidate and the original (one was found)."""
    assert report.behaviour is not None, "a difference without a behaviour check"
    return report.behaviour.differences[0]


class Figure(NamedTuple):
    speedup: float
    low: float  # the 95% interval
    high: float


def _figure(bench: PerCallBenchmark) -> Figure:
    """A measured per-call benchmark's speed-up and interval: one estimate sets all three
    (sandbox/speedup.py), so a benchmark with a speed-up has both ends."""
    assert bench.speedup is not None and bench.low is not None and bench.high is not None, "a speed-up without its interval"
    return Figure(bench.speedup, bench.low, bench.high)


def choose_winner(lab: Lab, report: SearchReport) -> Decision:
    nodes = [n for n in report.nodes if n.valid]
    if lab.config.no_tests or not lab.verified:
        return _pick_unverified(nodes)
    original = lab.original
    guarded = [n for n in nodes if n.execution is not None and passes_guard(original, n.execution)]
    if lab.mode == "solve":
        return _pick_solution(original, guarded, len(report.nodes))
    if not guarded:
        differing = [n for n in nodes if n.execution is not None and n.execution.behaves_differently]
        if differing:
            return Decision(
                None,
                False,
                f"nothing offered: none of {len(report.nodes)} candidates passed every test "
                f"the original passes and behaved as the original on its captured calls and generated inputs "
                f"({len(differing)} did not: {_difference(_ran(differing[0]))})",
            )
        return Decision(
            None, False, f"nothing offered: none of {len(report.nodes)} candidates passed every test the original passes"
        )
    return _pick_fastest(lab, original, guarded)


def _pick_unverified(nodes: list[Node]) -> Decision:
    """No tests ran: the critic's choice, or with no critic the first sample (one-shot use)."""
    if not nodes:
        return Decision(None, False, "nothing offered: no candidate contained usable code (no tests were run)")
    scored = [n for n in nodes if n.critique and n.critique.score]
    if not scored:
        if any(n.critique for n in nodes):
            return Decision(None, False, "nothing offered: no candidate was rated by the critic (no tests were run)")
        return Decision(nodes[0], True, "UNVERIFIED: the model's first answer, neither tested nor reviewed")
    best = max(scored, key=lambda n: n.scores.step)
    assert best.critique is not None  # `scored` holds only rated nodes
    return Decision(best, True, f"UNVERIFIED: critic score {best.critique.score}/5, no tests were run")


def _pick_solution(original: ExecutionReport, guarded: list[Node], tried: int) -> Decision:
    better = [n for n in guarded if _ran(n).passed > original.passed]
    if not better:
        return Decision(None, False, f"nothing offered: none of {tried} candidates passed more tests than the stub")
    best = min(better, key=lambda n: (-_ran(n).passed, -(measured_speedup(original, _ran(n)) or 0.0), -n.scores.step))
    r = _ran(best)
    # A test that skips itself judged nothing: solved only when each one that skipped
    # with the answer skipped with the stub as well, for the same reason (a missing
    # library, not the answer: the stub's NotImplementedError may be a skip too).
    skipped = {(t.nodeid, t.message) for t in r.tests if t.outcome == "skipped"}
    skipped_by_the_answer = skipped - {(t.nodeid, t.message) for t in original.tests if t.outcome == "skipped"}
    also = f", {len(skipped)} skipped with the stub too" if skipped and not skipped_by_the_answer else ""
    if not r.failed and not skipped_by_the_answer:
        return Decision(best, True, f"solved: {r.passed}/{r.total} tests pass{also}")
    unproven = f", {len(skipped_by_the_answer)} skip themselves with it" if skipped_by_the_answer else ""
    return Decision(best, True, f"partial solution: {r.passed}/{r.total} tests pass{unproven} - review before use", partial=True)


def _finalists(original: ExecutionReport, guarded: list[Node], count: int) -> list[Node]:
    """The `count` most promising distinct candidates: most tests passed, then the fastest per
    call where each was timed so (its feedback benchmark), then the quickest whole run against
    the original's (mostly pytest's time, so only where no per-call figure exists)."""

    def rank(node: Node) -> tuple[int, float, float]:
        report = _ran(node)
        bench = usable_per_call(report)
        return (
            -report.passed,
            -_figure(bench).speedup if bench is not None else 0.0,
            -(measured_speedup(original, report) or 0.0) if bench is None else 0.0,
        )

    seen, finalists = set(), []
    for node in sorted(guarded, key=rank):
        key = code_fingerprint(node.code)
        if key not in seen:
            seen.add(key)
            finalists.append(node)
        if len(finalists) == count:
            break
    return finalists


def timed_runs(report: ExecutionReport) -> tuple[list[float], str]:
    """The per-run times 'faster' is judged on, and the clock's name.

    CPU time is the steadier clock on a busy machine, but here it ticks in
    steps of milliseconds: a suite that spends less than CPU_RESOLUTION in the
    function reads 0.0 or one step, so its ratios are noise. Such suites are
    judged on wall time (nanosecond resolution) instead.
    """
    cpu = _cpu_runs(report)
    if cpu and min(cpu) >= CPU_RESOLUTION:
        return cpu, "CPU time"
    return list(report.wall_times), "wall time"


def _cpu_runs(report: ExecutionReport) -> list[float]:
    return [t for t in report.cpu_times if t is not None]


def _pick_fastest(lab: Lab, original: ExecutionReport, guarded: list[Node]) -> Decision:
    cfg = lab.config
    changed = [n for n in guarded if not lab.is_the_original(n)]
    if not changed:
        return Decision(
            None,
            False,
            f"nothing offered: the {len(guarded)} candidate(s) that pass every test the original "
            "passes are the original itself (the same code once comments and docstrings are set aside)",
        )
    finalists = _finalists(original, changed, cfg.finalists)
    per_call = _pick_by_per_call(lab, original, finalists)
    if per_call is not None:
        return per_call
    # Whole runs are counted only when asked: start-up, collection and plugins are most of
    # their instructions (and a third of a search's time went into valgrind).
    count = cfg.instruction_counter == "valgrind"

    # An instruction count runs under valgrind (about 40x slower): only when the time left allows it.
    count = count and lab.seconds_left() > _VALGRIND_SLOWDOWN * (1 + len(finalists)) * lab.seconds_per_run()
    repeats, finalists = _fit_budget(lab, cfg.timing_repeats, finalists)

    def measure(source: str, first: bool) -> ExecutionReport:
        lab.cancel.raise_if_cancelled()
        return lab.timed_run(source, repeats=1, count_instructions=count and first)

    # Interleaved rounds (original, then each finalist, again and again): a change
    # in the machine's load while they are measured falls on all of them alike.
    sources = [lab.original_source] + [lab.module_for(node) for node in finalists]
    reports: dict[int, ExecutionReport] = {}
    dropped: set[int] = set()  # finalists that failed a repeat: a flaky pass does not count
    for round_number in range(repeats):
        for index, source in enumerate(sources):
            if index in dropped:
                continue
            again = measure(source, round_number == 0)
            if index and not passes_guard(original, again):
                dropped.add(index)
            elif index in reports:
                reports[index].add_run(again)
            else:
                reports[index] = again
    original_again = reports[0]
    # Keep the baseline's coverage and per-test view; take the new, better timings.
    original_again.coverage, original_again.capture = original.coverage, original.capture
    measured: list[tuple[Node, ExecutionReport]] = []
    for index, node in enumerate(finalists, start=1):
        if index not in dropped:
            node.execution = reports[index]
            measured.append((node, reports[index]))
    if not measured:
        return Decision(None, False, "nothing offered: the finalists did not pass again when re-measured", original_again)

    base_count = original_again.instructions
    counted = {n.id: r.instructions for n, r in measured if r.instructions}
    if count and base_count is not None and len(counted) == len(measured):  # exact and repeatable: one count each
        base_runs, unit = [float(base_count)], "instructions"
        runs = {node_id: [float(c)] for node_id, c in counted.items()}
    else:
        base_runs, unit = timed_runs(original_again)
        # One clock for all: each candidate's runs on the clock the original's were judged by.
        runs = {n.id: _cpu_runs(r) if unit == "CPU time" else list(r.wall_times) for n, r in measured}
    if unit == "CPU time" and any(not runs[n.id] or min(runs[n.id]) < CPU_RESOLUTION for n, _ in measured):
        base_runs, unit = list(original_again.wall_times), "wall time"
        runs = {n.id: list(r.wall_times) for n, r in measured}
    timed = [(n, _median(runs[n.id])) for n, _ in measured if runs[n.id]]
    if not base_runs or not timed:
        return Decision(None, False, "nothing offered: the re-measured runs reported no times", original_again)
    base = _median(base_runs)

    def speedup_of(median: float) -> float:
        return base / median if median > 0 else float("inf")

    def is_clear(node: Node) -> bool:
        # Faster for real only when every run of it beat every run of the original
        # (with 5 runs each, chance alone does that less than 1% of the time) by the
        # margin: single-run ratios on a millisecond suite are noise.
        return unit == "instructions" or max(runs[node.id]) * cfg.min_speedup <= min(base_runs)

    while True:
        # A candidate clearly faster beats one that only looks faster; among those left,
        # within the noise margin of the fastest, the higher step score wins.
        clear_winners = [(n, t) for n, t in timed if is_clear(n) and speedup_of(t) >= cfg.min_speedup]
        contenders = clear_winners or timed
        fastest = min(t for _, t in contenders)
        tied = [n for n, t in contenders if t <= fastest * (1 + cfg.tie_margin)]
        best = max(tied, key=lambda n: n.scores.step)
        best_runs = runs[best.id]
        speedup = speedup_of(_median(best_runs))
        clear = is_clear(best)
        fixes = _ran(best).passed > original_again.passed
        tests = f"{_ran(best).passed}/{_ran(best).total} tests"
        how = "" if unit == "instructions" else f", median of {len(best_runs)} runs"
        if not ((speedup >= cfg.min_speedup and clear) or fixes):
            break
        claims_speed = unit != "instructions" and speedup >= cfg.min_speedup and clear
        unconfirmed = (
            unconfirmed_by_the_kernel(original_again, _ran(best), base - _median(best_runs), unit) if claims_speed else ""
        )
        if unconfirmed:
            timed = [(n, t) for n, t in timed if n is not best]
            if timed:
                continue
            return Decision(
                None,
                False,
                f"nothing offered: the best candidate's {speedup:.2f}x ({unit}) is not "
                f"confirmed from outside its process: {unconfirmed}",
                original_again,
            )
        if not _cross_checked(lab, best):  # the next best, if any, gets its own check
            timed = [(n, t) for n, t in timed if n is not best]
            if timed:
                continue
            return Decision(
                None,
                False,
                f"nothing offered: the best candidate behaves differently from the original "
                f"on an input CrossHair found ({_difference(_ran(best))})",
                original_again,
            )
        behaviour = _ran(best).behaviour
        evidence = f", {behaviour.evidence()}" if behaviour and behaviour.evidence() else ""
        what = (
            f"{speedup:.2f}x faster ({unit}{how})"
            if speedup >= cfg.min_speedup and clear
            else f"passes {_ran(best).passed - original_again.passed} more tests"
        )
        return Decision(best, True, f"improved: {what}, {tests} pass{evidence}", original_again)
    if speedup >= cfg.min_speedup:
        return Decision(
            None,
            False,
            f"nothing offered: the best candidate ({tests}) was {speedup:.2f}x the original's "
            f"speed ({unit}{how}), but its runs overlap the original's by more than the "
            f"{cfg.min_speedup:.2f}x margin: not clear of the noise",
            original_again,
        )
    return Decision(
        None,
        False,
        f"nothing offered: the best candidate ({tests}) was {speedup:.2f}x the original's speed ({unit}{how}), "
        f"below the {cfg.min_speedup:.2f}x needed",
        original_again,
    )


def per_call_bar(bench: PerCallBenchmark, min_speedup: float) -> float:
    """The speed-up the interval's lower end must clear."""
    typical = bench.median_call_seconds
    return max(min_speedup, FAST_CALL_MIN_SPEEDUP) if typical is not None and typical < FAST_CALL_SECONDS else min_speedup


def _pick_by_per_call(lab: Lab, original: ExecutionReport, finalists: list[Node]) -> Decision | None:
    """The pick by the per-call benchmark; None when there are no captured calls to time
    (or none of the timings gave a figure): the whole-run measure decides then."""
    cfg = lab.config
    benched: list[tuple[Node, PerCallBenchmark]] = []
    for node in finalists:
        if benched and lab.seconds_left() < 2 * cfg.benchmark_seconds + 3 * lab.seconds_per_run():
            break  # the time left goes to checking the best one
        if benched and _cannot_clear(node, cfg.min_speedup):
            continue  # its own short benchmark already puts it below the bar: timing it again buys nothing
        lab.cancel.raise_if_cancelled()
        bench = lab.benchmark(node, scaling=True)
        if bench is None:
            return None
        _ran(node).per_call = bench
        benched.append((node, bench))
    refused = [(n, b) for n, b in benched if b.different]
    measured = [(n, b) for n, b in benched if b.speedup is not None and not b.different]
    if not measured:
        if refused:
            return Decision(
                None,
                False,
                f"nothing offered: the best candidate answered differently from the original "
                f"when its function was timed ({refused[0][1].different})",
            )
        return None
    honest = [(n, b) for n, b in measured if not b.state]
    if not honest:
        node, bench = measured[0]
        return Decision(
            None,
            False,
            f"nothing offered: the best candidate keeps state between calls ({bench.state}): "
            f"timed on the same calls again, it answers from memory, not as it would new calls",
        )
    clear = [(n, b) for n, b in honest if _figure(b).low >= per_call_bar(b, cfg.min_speedup)]
    if not clear:
        close = _settled_by_instructions(lab, max(honest, key=lambda pair: _figure(pair[1]).speedup))
        clear = [close] if close is not None else []
    refusal = ""  # why the last candidate that cleared the bar was not offered
    while clear:
        # The fastest, and those whose interval reaches it (a tie): the higher step score wins.
        fastest = max(_figure(b).speedup for _, b in clear)
        tied = [(n, b) for n, b in clear if _figure(b).high >= fastest]
        best, bench = max(tied, key=lambda pair: pair[0].scores.step)
        clear = [(n, b) for n, b in clear if n is not best]
        decision, refusal = _offer(lab, original, best, bench, heavy_path=False)
        if decision is not None:
            return decision
    # No figure over the quick calls clears the bar, but the tests' heavy calls (too slow to
    # time per call) may be where the rewrite pays: they are timed beside the original.
    for node, bench in _heavy_hopefuls(lab, honest):
        decision, why = _offer(lab, original, node, bench, heavy_path=True)
        if decision is not None:
            return decision
        refusal = refusal or why
    if refusal:
        return Decision(None, False, f"nothing offered: {refusal}")
    node, bench = max(honest, key=lambda pair: _figure(pair[1]).speedup)
    bar = per_call_bar(bench, cfg.min_speedup)
    tests = f"{_ran(node).passed}/{_ran(node).total} tests"
    if _figure(bench).speedup >= bar:
        return Decision(
            None,
            False,
            f"nothing offered: the best candidate ({tests}) was {bench.describe()}: its "
            f"interval reaches below the {bar:.2f}x needed, not clear of the noise",
        )
    return Decision(
        None, False, f"nothing offered: the best candidate ({tests}) was {bench.describe()}, below the {bar:.2f}x needed"
    )


def _offer(
    lab: Lab, original: ExecutionReport, node: Node, bench: PerCallBenchmark, *, heavy_path: bool
) -> tuple[Decision | None, str]:
    """The checks between a per-call figure and an offer: growth (with --scaling refuse), the
    heavy calls (too slow to time per call) timed beside the original, the runs alone (the
    kernel's figures), a re-run of the tests and CrossHair. The offer, or None and why not
    ("" when the heavy calls just show no speed-up: the below-the-bar verdict says it better)."""
    cfg = lab.config
    growth = scaling_warning(bench)
    # A growth warning comes from the grown calls: `bench.scaling` is there.
    if growth and cfg.scaling == "refuse" and bench.scaling is not None and bench.scaling.slower_when_larger():
        return None, f"the best candidate was {bench.describe()}, but {growth}"
    lab.cancel.raise_if_cancelled()
    if bench.untimed() and bench.heavy_original is None:
        lab.time_heavy_calls(node, bench)
    if heavy_path and not bench.different and not _faster_on_heavy(bench, per_call_bar(bench, cfg.min_speedup)):
        return None, ""
    heavier = "" if heavy_path or bench.different else slower_on_heavy(bench)
    if heavier:
        return None, f"the best candidate was {bench.describe(heavy_first=True)}: {heavier}"
    if not bench.different:
        lab.cancel.raise_if_cancelled()
        lab.confirm_benchmark(node, bench, heavy_only=heavy_path)
    doubt = bench.different or per_call_unconfirmed(bench)
    if doubt:
        return None, (
            f"the best candidate's {bench.describe(heavy_first=heavy_path)} is not confirmed from outside its process: {doubt}"
        )
    again = lab.timed_run(lab.module_for(node), repeats=1)
    if not passes_guard(original, again):
        return None, "the best candidate did not pass again when re-run"
    if not _cross_checked(lab, node):
        return None, (
            f"the best candidate behaves differently from the original on an input CrossHair found ({_difference(_ran(node))})"
        )
    behaviour = _ran(node).behaviour
    evidence = f", {behaviour.evidence()}" if behaviour and behaviour.evidence() else ""
    tests = f"{_ran(node).passed}/{_ran(node).total} tests"
    warning = f"; but {growth}" if growth else ""
    return Decision(node, True, f"improved: {bench.describe(heavy_first=heavy_path)}, {tests} pass{evidence}{warning}"), ""


def _heavy_hopefuls(lab: Lab, honest: list[tuple[Node, PerCallBenchmark]]) -> list[tuple[Node, PerCallBenchmark]]:
    """Candidates whose figure over the quick calls did not clear the bar but whose tests have
    calls too slow to time per call: the best two by step score, while the time allows."""
    cfg = lab.config
    hopeful = [(n, b) for n, b in honest if b.untimed() and _figure(b).low < per_call_bar(b, cfg.min_speedup)]
    hopeful.sort(key=lambda pair: pair[0].scores.step, reverse=True)
    heavy_seconds = max((sum(b.slow_seconds) for _, b in hopeful), default=0.0)
    # Timed twice per version beside, then once per version alone, then the tests again.
    room = lab.seconds_left() - 3 * lab.seconds_per_run() - 6 * heavy_seconds - 15
    return hopeful[:HEAVY_HOPEFULS] if room > 0 else []


def _faster_on_heavy(bench: PerCallBenchmark, bar: float) -> bool:
    """Whether all the calls together, the heavy ones timed beside and the others per call,
    took the candidate less time by HEAVY_MIN_SPEEDUP (one timing each, no interval) and the bar."""
    ratio = bench.heavy_ratio()
    if bench.heavy_original is None or bench.heavy_candidate is None or ratio is None:
        return False
    before = bench.heavy_original[0] + sum(bench.original_seconds)
    after = bench.heavy_original[0] / ratio + sum(bench.candidate_seconds)
    return after > 0 and before / after >= max(bar, HEAVY_MIN_SPEEDUP)


def slower_on_heavy(bench: PerCallBenchmark) -> str:
    """Why a candidate faster per call on the quick calls is not faster: it is slower on the
    heavy ones ("" when it is not, or they were not timed)."""
    ratio = bench.heavy_ratio()
    if ratio is None or ratio * HEAVY_SLOWER >= 1:
        return ""
    return f"it is {1 / ratio:.2f}x slower on the calls too slow to time per call (timed beside the original)"


def _cannot_clear(node: Node, min_speedup: float) -> bool:
    """Whether the node's feedback benchmark (the short one every candidate gets) has its whole
    95% interval below the bar: a longer benchmark narrows an interval, it seldom moves it."""
    bench = usable_per_call(_ran(node))
    return bench is not None and bench.high is not None and bench.high < per_call_bar(bench, min_speedup)


def _settled_by_instructions(lab: Lab, pair: tuple[Node, PerCallBenchmark]) -> tuple[Node, PerCallBenchmark] | None:
    """A close call (the figure clears the bar, its interval does not): the pair back when the
    instructions of the function alone, counted from outside, clear the bar too."""
    node, bench = pair
    cfg = lab.config
    bar = per_call_bar(bench, cfg.min_speedup)
    # Three runs under valgrind (start-up about 40x slower): only when the time left allows it.
    if (
        cfg.instruction_counter == "none"
        or _figure(bench).speedup < bar
        or lab.seconds_left() < _VALGRIND_SLOWDOWN * 3 * lab.seconds_per_run()
    ):
        return None
    lab.cancel.raise_if_cancelled()
    lab.count_instructions_per_call(node, bench)
    counted = bench.instruction_ratio()
    return pair if counted is not None and counted >= bar else None


def scaling_warning(bench: PerCallBenchmark | None) -> str:
    """What the grown calls say against a per-call speed-up ("" when nothing): slower on larger
    inputs, or answers unlike the original's there."""
    growth = bench.scaling if bench is not None else None
    if growth is None:
        return ""
    if growth.slower_when_larger():
        return f"it is slower on larger inputs than the tests': {growth.describe()}"
    if growth.differs:
        return f"its answers differ from the original's on inputs grown {growth.differs}: {growth.describe()}"
    return ""


def per_call_unconfirmed(bench: PerCallBenchmark) -> str:
    """Why the kernel's figures of the runs alone do not bear out the claimed saving; ""
    when they do: at least half of it must show, within the slack."""
    if not bench.passes:
        return "it was not run alone"
    claimed = bench.passes * (sum(bench.original_seconds) - sum(bench.candidate_seconds))
    if bench.heavy_original is not None and bench.heavy_candidate is not None:
        claimed += bench.heavy_original[0] - bench.heavy_candidate[0]  # the heavy calls' own timings, once each
    figures = [("run time", bench.alone_wall)]
    cpu_before, wall_before = bench.alone_cpu[0], bench.alone_wall[0]
    if cpu_before is not None and wall_before is not None and cpu_before >= CPU_BOUND * wall_before:
        figures.append(("CPU time", bench.alone_cpu))  # a saving in waiting (a sleep) need not save CPU
    for name, (before, after) in figures:
        if before is None or after is None:
            why = f" ({bench.alone_note})" if bench.alone_note else ""
            return f"the {'original' if before is None else 'candidate'}'s run alone did not complete{why}"
        if _short_of(claimed, before, after):
            return (
                f"its per-call times claim {claimed:.3f} s less over {bench.passes} passes, but the {name} "
                f"the kernel counted for each run alone went from {before:.3f} s to {after:.3f} s"
            )
    return ""


def unconfirmed_by_the_kernel(original: ExecutionReport, candidate: ExecutionReport, claimed: float, unit: str) -> str:
    """Why a claimed saving (seconds per run, on `unit`) is not borne out by the figures
    taken outside the test process; "" when it is, or is too small to tell from a whole
    run's noise. The in-process clocks are bound before the candidate loads, but the
    candidate runs in that process and can still move its work where they do not look
    (a helper process it waits on); the kernel's count of the run and its length cannot."""
    if claimed < RECHECK_SECONDS:
        return ""
    figures = [
        ("CPU time", original.outside_cpu_times, candidate.outside_cpu_times),
        ("run time", original.outside_wall_times, candidate.outside_wall_times),
    ]
    if unit != "CPU time":
        figures = figures[1:]  # a wall-time saving (less waiting) need not save CPU
    for name, before, after in figures:
        if not before or not after:
            continue
        base = _median(before)
        if _short_of(claimed, base, _median(after)):
            return (
                f"it claims {claimed:.3f} s less per run, but the run's {name} counted outside it went "
                f"from {base:.3f} s to {_median(after):.3f} s"
            )
    return ""


def _short_of(claimed: float, before: float, after: float) -> bool:
    """Whether the saving seen outside (before - after) is less than half the claimed one, beyond the slack."""
    return before - after < claimed / 2 - RECHECK_SLACK_SECONDS - RECHECK_SLACK_SHARE * before


def _cross_checked(lab: Lab, node: Node) -> bool:
    """False when CrossHair (the executor's extra oracle) shows the node behaving differently
    from the original; the finding, or why it did not run, goes into the node's behaviour."""
    lab.cancel.raise_if_cancelled()
    check = lab.cross_check(node)
    if check is None:
        return True
    report = _ran(node)
    if report.behaviour is None:
        report.behaviour = BehaviourCheck()
    report.behaviour.add_cross_check(check)
    return not check.different


def _fit_budget(lab: Lab, repeats: int, finalists: list[Node]) -> tuple[int, list[Node]]:
    """As many rounds and finalists as the time left allows (at least two rounds of the best one)."""
    left = lab.seconds_left()
    per_run = lab.seconds_per_run()
    if per_run <= 0 or left == float("inf"):
        return repeats, finalists
    while len(finalists) > 1 and repeats * (1 + len(finalists)) * per_run > left:
        finalists = finalists[:-1]
    while repeats > 2 and repeats * (1 + len(finalists)) * per_run > left:
        repeats -= 1
    return repeats, finalists
