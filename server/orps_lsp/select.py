"""The final pick: never a regression, and faster only when measured so.

Search-time timings come from one run each on a noisy machine, so the few
fastest guarded candidates and the original are measured again together
(best of several runs; with an instruction counter when the call is close)
before one is chosen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .extract import code_fingerprint
from .report import ExecutionReport, Node, SearchReport
from .scoring import passes_guard

if TYPE_CHECKING:
    from .search import OrpsSearch

CLOSE_CALL = 1.5  # below this speed-up, count instructions when "auto" (valgrind is slow but exact)
# Above this many CPU seconds in the tests, best-of-N timing is precise enough, and valgrind
# (about 50x slower) would make the pick take minutes: "auto" counts instructions only below it.
COUNT_BELOW_SECONDS = 0.25


@dataclass
class Decision:
    node: Node | None
    improved: bool
    verdict: str
    original_remeasured: ExecutionReport | None = None


def primary_time(report: ExecutionReport, use_instructions: bool) -> float | None:
    """The measure 'faster' is judged by: instructions when counted, else CPU time, else wall time."""
    if use_instructions and report.instructions:
        return float(report.instructions)
    return report.cpu_time or report.wall_time


def choose_winner(search: OrpsSearch, report: SearchReport) -> Decision:
    nodes = [n for n in report.nodes if n.valid]
    if search.config.no_tests or search.executor is None:
        return _pick_unverified(nodes)
    original = search.original
    guarded = [n for n in nodes if n.execution is not None and passes_guard(original, n.execution)]
    if search.task.mode == "solve":
        return _pick_solution(original, guarded, len(report.nodes))
    if not guarded:
        return Decision(None, False, f"nothing offered: none of {len(report.nodes)} candidates passed every test the original passes")
    return _pick_fastest(search, original, guarded)


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
    return Decision(best, True, f"UNVERIFIED: critic score {best.critique.score}/5, no tests were run")


def _pick_solution(original: ExecutionReport, guarded: list[Node], tried: int) -> Decision:
    better = [n for n in guarded if n.execution.passed > original.passed]
    if not better:
        return Decision(None, False, f"nothing offered: none of {tried} candidates passed more tests than the stub")
    best = min(better, key=lambda n: (-n.execution.passed, n.execution.cpu_time or n.execution.wall_time or 0.0, -n.scores.step))
    r = best.execution
    if r.passed == r.total:
        return Decision(best, True, f"solved: {r.passed}/{r.total} tests pass")
    return Decision(best, True, f"partial solution: {r.passed}/{r.total} tests pass - review before use")


def _finalists(guarded: list[Node], count: int) -> list[Node]:
    seen, finalists = set(), []
    for node in sorted(guarded, key=lambda n: (-n.execution.passed, primary_time(n.execution, False) or float("inf"))):
        key = code_fingerprint(node.code)
        if key not in seen:
            seen.add(key)
            finalists.append(node)
        if len(finalists) == count:
            break
    return finalists


def _pick_fastest(search: OrpsSearch, original: ExecutionReport, guarded: list[Node]) -> Decision:
    cfg = search.config
    finalists = _finalists(guarded, cfg.finalists)
    quick_best = primary_time(finalists[0].execution, False)
    quick_original = primary_time(original, False)
    close_call = bool(quick_best and quick_original and quick_original / quick_best < CLOSE_CALL)
    cheap_to_count = bool(quick_original and quick_original < COUNT_BELOW_SECONDS)
    count = cfg.instruction_counter == "valgrind" or (cfg.instruction_counter == "auto" and close_call and cheap_to_count)

    def measure(source: str) -> ExecutionReport:
        search.cancel.raise_if_cancelled()
        started = time.perf_counter()
        again = search.executor.run(source, repeats=cfg.timing_repeats, count_instructions=count)
        search.stats.evaluation_seconds += time.perf_counter() - started
        return again

    original_again = measure(search.task.source)
    # Keep the baseline's coverage and per-test view; take the new, better timings.
    original_again.coverage = original.coverage
    measured: list[tuple[Node, ExecutionReport]] = []
    for node in finalists:
        again = measure(search._module_for(node))
        if passes_guard(original, again):  # a flaky pass does not count
            node.execution = again
            measured.append((node, again))
    if not measured:
        return Decision(None, False, "nothing offered: the finalists did not pass again when re-measured", original_again)

    use_instructions = count and original_again.instructions is not None and all(r.instructions for _, r in measured)
    base = primary_time(original_again, use_instructions)
    timed = [(n, primary_time(r, use_instructions)) for n, r in measured]
    fastest = min(t for _, t in timed if t is not None)
    # Within the noise margin of the fastest, the higher step score wins.
    tied = [n for n, t in timed if t is not None and t <= fastest * (1 + cfg.tie_margin)]
    best = max(tied, key=lambda n: n.scores.step)
    best_time = primary_time(best.execution, use_instructions)
    unit = "instructions" if use_instructions else "CPU time"
    speedup = base / best_time if base and best_time else 1.0
    fixes = best.execution.passed > original_again.passed
    tests = f"{best.execution.passed}/{best.execution.total} tests"
    if speedup >= cfg.min_speedup or fixes:
        what = f"{speedup:.2f}x faster ({unit})" if speedup >= cfg.min_speedup else f"passes {best.execution.passed - original_again.passed} more tests"
        return Decision(best, True, f"improved: {what}, {tests} pass", original_again)
    return Decision(
        None,
        False,
        f"nothing offered: the best candidate ({tests}) was {speedup:.2f}x the original's speed ({unit}), "
        f"below the {cfg.min_speedup:.2f}x needed",
        original_again,
    )
