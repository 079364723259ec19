"""The per-call benchmark, executor side: ask for it, read it back, check it from outside.

`measure` runs the candidate's copy with the benchmark plan (benchmark.compare: both
versions side by side on the captured calls) and recomputes every figure from the raw
timings (speedup.py). `confirm` runs each version alone on the same calls (in its own
copy: the original's run holds no candidate code at all), enough passes that the claimed
saving is large against a run's noise; the kernel's count of each run is what final_pick.py
holds the claim against. The candidate can bend the clocks of its own
process; it cannot bend those.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeGuard

from ..report import LineCost, LineProfile, PerCallBenchmark, ScaledCall, Scaling
from . import speedup
from .oracle import Oracle, answer_difference
from .protocol import BENCHMARK_MAX_PASSES, replay_plan
from .verdict import Run

# A run alone lasts long enough that the claimed saving is about this many seconds of CPU,
# within these bounds (start-up and collection come on top, the same for both versions): a
# second of saving stands clear of what a loaded machine adds to a run of a few seconds.
ALONE_CLAIM_SECONDS = 1.0
ALONE_MIN_SECONDS, ALONE_MAX_SECONDS = 1.0, 3.0
_START_SECONDS = 5.0  # the run's own start and warm-up, besides the timing
ALONE_CHUNK_SECONDS = 0.01  # a run alone times its passes in chunks of about this much of the original's time
# The calls too slow to time per call are timed (twice per version, side by side) and made
# once in each run alone when the original's take at most this long in all (beyond it, the
# search's time is better spent elsewhere).
HEAVY_MAX_SECONDS = 20.0

Launch = Callable[[str, dict[str, Any], float], Run]  # (module source, replay plan, extra seconds) -> run


def measure(
    launch: Launch,
    oracle: Oracle,
    original_source: str,
    source: str,
    seconds: float,
    scaling: float = 0.0,
    skip: set[int] | frozenset[int] = frozenset(),
) -> PerCallBenchmark:
    """Both versions timed for about `seconds` on the captured calls but `skip`; then, when
    `scaling` > 0, on grown calls for about that long (scaling.py)."""
    positions = [index for index in range(len(oracle.blobs)) if index not in skip]
    plan = replay_plan(
        [oracle.blobs[i] for i in positions],
        [],
        bases_only=True,
        benchmark={"original": original_source, "seconds": seconds, "scaling": scaling},
    )
    # The warm-up (each call once or twice per version, each under the per-test limit) comes on top.
    run = launch(source, plan, 2 * (seconds + scaling) + _START_SECONDS)
    return figures(run, oracle, positions)


def figures(run: Run, oracle: Oracle, positions: list[int]) -> PerCallBenchmark:
    """What the run's benchmark record shows (its calls: the captured calls at `positions`),
    checked for shape and for the answers given while timed; a note when it shows nothing."""
    if not run.trusted:
        why = run.records.tamper or "its run's results were forged or its tests changed"
        return PerCallBenchmark(different=f"the harness was tampered with while timed ({why})")
    found = run.records.benchmark if run.completed else None
    if found is None:
        # Both versions ran there on calls each finished in its own runs, within bounded rounds:
        # a run that does not finish is the candidate's doing (a clock it slowed, a hang).
        how = f" ({run.stopped})" if run.stopped else ""
        return PerCallBenchmark(different=f"its benchmark's run did not complete{how}")
    if found.get("note"):
        return PerCallBenchmark(
            note=f"no per-call figure: {found['note']}",
            slow=_slow(found, positions),
            slow_seconds=_slow_seconds(found, positions),
        )
    timed, original, candidate = found.get("timed"), found.get("original"), found.get("candidate")
    if not (_indices(timed, len(positions)) and _table(original, len(timed)) and _table(candidate, len(timed))):
        return PerCallBenchmark(note="no per-call figure: the benchmark's record is malformed")
    timed = [positions[i] for i in timed]
    different = wrong_answer(oracle, timed, found.get("answers"))
    if different:
        return PerCallBenchmark(calls=len(timed), timed=list(timed), different=f"while timed, {different}")
    estimate = speedup.estimate(original, candidate)
    bench = PerCallBenchmark(
        calls=len(timed),
        timed=list(timed),
        rounds=estimate.rounds,
        speedup=estimate.speedup,
        low=estimate.low,
        high=estimate.high,
        original_seconds=[speedup.median(t) for t in original],
        candidate_seconds=[speedup.median(t) for t in candidate],
        seconds=float(found.get("seconds") or 0.0),
        state=str(found.get("state") or ""),
        slow=_slow(found, positions),
        slow_seconds=_slow_seconds(found, positions),
    )
    if bench.speedup is None:
        bench.note = f"no per-call figure: {estimate.rounds} rounds fit in the time given, {speedup.MIN_ROUNDS} are needed"
    if "scaling" in found:
        bench.scaling = _scaling(found["scaling"], positions)
        if bench.scaling.note.startswith("tampered"):
            bench.different = "the harness was tampered with while the grown calls were timed"
    return bench


def _slow(found: dict[str, Any], positions: list[int]) -> list[int]:
    """The calls the original alone was too slow on (oracle indices)."""
    slow = found.get("slow")
    return [positions[i] for i in slow] if _indices(slow, len(positions)) else []


def _slow_seconds(found: dict[str, Any], positions: list[int]) -> list[float]:
    """The original's time on each of the slow calls (zeros where the record is malformed)."""
    slow, seconds = _slow(found, positions), found.get("slow_seconds")
    if (
        isinstance(seconds, list)
        and len(seconds) == len(slow)
        and all(isinstance(t, (int, float)) and math.isfinite(t) and t >= 0 for t in seconds)
    ):
        return [float(t) for t in seconds]
    return [0.0] * len(slow)


def _scaling(found: Any, positions: list[int]) -> Scaling:
    """The grown calls' timings, checked for shape."""
    if not isinstance(found, dict):
        return Scaling(note="the scaling record is malformed")
    if found.get("tampered"):
        return Scaling(note="tampered")
    if found.get("note"):
        return Scaling(note=str(found["note"]))
    calls = []
    entries = found.get("calls")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not _indices([entry.get("index")], len(positions)):
            return Scaling(note="the scaling record is malformed")
        sizes, before, after = entry.get("sizes"), entry.get("original"), entry.get("candidate")
        if not (
            isinstance(sizes, list)
            and all(isinstance(n, int) and n >= 0 for n in sizes)
            and _row(before)
            and _row(after)
            and len(before) == len(after) == len(sizes)
        ):
            return Scaling(note="the scaling record is malformed")
        calls.append(ScaledCall(index=positions[entry["index"]], sizes=sizes, original_seconds=before, candidate_seconds=after))
    differs = found.get("differs")
    return Scaling(calls=calls, differs=differs if isinstance(differs, str) else "")


def _heavy_calls(bench: PerCallBenchmark) -> tuple[list[int], float]:
    """The calls too slow to time per call that are made (beside and alone), and the original's
    seconds on them; none when they would take longer than HEAVY_MAX_SECONDS (said in `bench`)."""
    heavy = bench.untimed()
    seconds = _original_seconds_on(bench, heavy)
    if heavy and seconds > HEAVY_MAX_SECONDS:
        bench.heavy_note = f"the calls too slow to time per call take {seconds:.0f} s: not timed"
        return [], 0.0
    return heavy, seconds


def _original_seconds_on(bench: PerCallBenchmark, slow: list[int]) -> float:
    """The original's seconds on those of the slow calls, one call each."""
    took = dict(zip(bench.slow, bench.slow_seconds))
    return sum(took.get(i, 0.0) for i in slow)


def time_heavy(launch: Launch, oracle: Oracle, original_source: str, source: str, bench: PerCallBenchmark) -> None:
    """Both versions on the calls too slow to time per call, side by side in one run, each
    call twice per version (benchmark.heavy): `bench.heavy_*`."""
    heavy, seconds = _heavy_calls(bench)
    if not heavy:
        return
    plan = replay_plan(
        [oracle.blobs[i] for i in heavy], [], bases_only=True, benchmark={"original": original_source, "heavy": True}
    )
    # The original's two calls, and the candidate's, which may be much slower (it is timed to see).
    run = launch(source, plan, 10 * seconds + _START_SECONDS)
    if not run.trusted:
        bench.different = f"the harness was tampered with while the heavy calls were timed ({run.records.tamper or 'forged'})"
        return
    found = run.records.benchmark if run.completed else None
    if found is None or found.get("note"):
        # The original's calls fit in a tenth of the time given and each ran within the per-test
        # limit in its tests: a run or a timing that does not finish is the candidate's doing (far
        # slower on those calls, a hang), never a pass on the quick calls' figure alone.
        why = (found or {}).get("note") or run.stopped or "its run did not complete"
        bench.different = f"on the calls too slow to time per call: {why}"
        return
    rows = found.get("heavy")
    if not (_table(rows, len(heavy)) and all(len(row) == 4 for row in rows)):
        bench.heavy_note = "the heavy calls' record is malformed"
        return
    different = wrong_answer(oracle, heavy, found.get("answers"))
    if different:
        bench.different = f"while timed on the heavy calls, {different}"
        return
    bench.heavy = heavy
    bench.heavy_original = (sum(row[0] for row in rows), sum(row[1] for row in rows))
    bench.heavy_candidate = (sum(row[2] for row in rows), sum(row[3] for row in rows))


def confirm(
    launch: Launch, oracle: Oracle, original_source: str, source: str, bench: PerCallBenchmark, *, heavy_only: bool = False
) -> None:
    """Each version alone, the same number of passes over the timed calls, then the heavy
    calls timed beside (`bench.heavy`) once each; the kernel's figures of both runs go into
    `bench` (None where a run did not complete). Nothing is run where the candidate is slower
    per call and no heavy call could say otherwise. `heavy_only`: the claim rests on the heavy
    calls, so the quick ones are made once (seconds of them would only add noise)."""
    per_pass = sum(bench.original_seconds)
    heavy = list(bench.heavy)
    heavy_seconds = _original_seconds_on(bench, heavy)
    if not bench.speedup or per_pass <= 0 or (bench.speedup <= 1 and not heavy) or (heavy_only and not heavy):
        return
    target = (
        0.0
        if heavy_only
        else min(ALONE_MAX_SECONDS, max(ALONE_MIN_SECONDS, ALONE_CLAIM_SECONDS / (1 - 1 / max(bench.speedup, 1.05))))
    )
    bench.passes = max(1, min(BENCHMARK_MAX_PASSES, math.ceil(target / per_pass)))
    blobs = [oracle.blobs[i] for i in bench.timed + heavy]  # the calls the claim was measured on, the heavy ones last
    plan = replay_plan(
        blobs, [], bases_only=True, benchmark={"passes": bench.passes, "once": len(heavy), "chunks": _chunks(bench)}
    )
    # The candidate's run may take much longer than it claims (that is what is checked).
    first = launch(original_source, plan, 2 * (target + heavy_seconds) + _START_SECONDS)
    second = launch(source, plan, 4 * (target + heavy_seconds) + _START_SECONDS)
    readings = [_alone(run, oracle, bench.timed) for run in (first, second)]
    bench.alone_cpu = (readings[0][0], readings[1][0])
    bench.alone_wall = (readings[0][1], readings[1][1])
    bench.alone_note = "; ".join(
        f"{who}'s: {reading[3]}" for who, reading in zip(("the original", "the candidate"), readings) if reading[3]
    )
    if readings[1][2]:
        bench.different = f"run alone, {readings[1][2]}"


def _chunks(bench: PerCallBenchmark) -> list[int]:
    """Calls per timing of each timed call in a run alone: about ALONE_CHUNK_SECONDS of the
    original's, each timing under the per-test limit. From the benchmark's figures, so every run
    of the same calls (either version, counted or not) makes them in the same chunks; powers of
    two, so that another benchmark of the same calls mostly gives the same ones (the original's
    count is reused then). The sandbox caps them at benchmark.MAX_REPEATS."""
    return [2 ** max(0, round(math.log2(ALONE_CHUNK_SECONDS / max(seconds, 1e-9)))) for seconds in bench.original_seconds]


def line_profile(
    launch: Launch, oracle: Oracle, original_source: str, first_line: int, last_line: int, seconds: float
) -> LineProfile:
    """The original's function under the line profiler on the captured calls (line_profile.py),
    its lines numbered from the function's first line (`first_line`, in the file)."""
    plan = replay_plan(oracle.blobs, [], bases_only=True, benchmark={"profile": seconds})
    run = launch(original_source, plan, 2 * seconds + _START_SECONDS)
    found = run.records.benchmark if run.completed and run.trusted else None
    if found is None:
        return LineProfile(note="the profiled run did not complete")
    if found.get("note"):
        return LineProfile(note=str(found["note"]))
    text = original_source.splitlines()
    lines = []
    for entry in found.get("lines") or []:
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], int)
            and isinstance(entry[1], int)
            and isinstance(entry[2], (int, float))
        ):
            return LineProfile(note="the profile's record is malformed")
        line, hits, spent = entry
        if first_line <= line <= min(last_line, len(text)):
            lines.append(LineCost(line=line - first_line + 1, text=text[line - 1].strip(), hits=hits, seconds=float(spent)))
    passes = found.get("passes")
    return LineProfile(lines=lines, passes=passes if isinstance(passes, int) else 0)


# Passes over the calls in a counted run: the function's share of it at about this many
# seconds (uninstrumented), so that start-up's variation is small beside it.
COUNT_SECONDS = 0.2
_COUNT_SLOWDOWN = 60  # valgrind, with room
CountKey = tuple[int, tuple[int, ...], tuple[int, ...]]  # a counted run: passes, the calls, their chunks


def count(
    launch: Launch,
    oracle: Oracle,
    original_source: str,
    source: str,
    bench: PerCallBenchmark,
    counter: str,
    originals: dict[CountKey, float],
) -> None:
    """Instructions of the function alone, per pass over the timed calls, into `bench`: each
    version's run of `passes` passes counted from outside (valgrind), less a run of the
    original with one pass (start-up, pytest, loading, warm-up). Anything the candidate's
    run does besides (a heavier import) counts against it, never for it. The original's
    counts are kept in `originals` (by passes, calls and chunks) for the next candidate."""
    per_pass = sum(bench.original_seconds)
    if per_pass <= 0 or not bench.timed:
        return
    passes = max(2, min(BENCHMARK_MAX_PASSES, math.ceil(COUNT_SECONDS / per_pass)))
    blobs = [oracle.blobs[i] for i in bench.timed]
    extra = _COUNT_SLOWDOWN * (passes * per_pass) + _START_SECONDS
    chunks = _chunks(bench)
    counts = []
    for code, times in ((original_source, 1), (original_source, passes), (source, passes)):
        key = (times, tuple(bench.timed), tuple(chunks) if times > 1 else ())  # one pass: one call per timing whatever the chunks
        if code is original_source and key in originals:
            counts.append(originals[key])
            continue
        run = launch(code, replay_plan(blobs, [], bases_only=True, benchmark={"passes": times, "chunks": chunks}), extra)
        found = run.records.benchmark if run.completed and run.trusted else None
        if run.measurement is None or not found or found.get("note") or wrong_answer(oracle, bench.timed, found.get("answers")):
            bench.instruction_note = f"the {'candidate' if code is source else 'original'}'s counted run did not complete"
            return
        counts.append(float(run.measurement))
        if code is original_source:
            originals[key] = counts[-1]
    base, before, after = counts
    bench.instruction_counter = counter
    bench.instructions = ((before - base) / (passes - 1), (after - base) / (passes - 1))


def wrong_answer(oracle: Oracle, timed: list[int], answers: Any) -> str:
    """The first sampled answer unlike the original's on its call ("" when all are alike);
    no answers where some were due is itself a difference."""
    if not isinstance(answers, list) or len(answers) != len(timed) or not all(isinstance(a, list) for a in answers):
        return "no answers came back to check"
    for index, sampled in zip(timed, answers):
        if not sampled:
            return f"{oracle.calls[index]} gave no answer to check"
        for outcome in sampled:
            why = answer_difference(oracle, index, outcome)
            if why:
                return why
    return ""


def _alone(run: Run, oracle: Oracle, timed: list[int]) -> tuple[float | None, float | None, str, str]:
    """The kernel's CPU count and the length of a run alone, how its answers differ, and why
    it gave no figure ("" when it did)."""
    found = run.records.benchmark if run.completed and run.trusted else None
    if not found or found.get("note") or not isinstance(found.get("passes"), int):
        why = (
            (found or {}).get("note")
            if run.completed and run.trusted
            else (run.stopped or ("its results were not trusted" if not run.trusted else f"exit code {run.exit_code}"))
        )
        return None, None, "", str(why or "no record came back")
    return run.outside_cpu, run.outside_wall, wrong_answer(oracle, timed, found.get("answers")), ""


def _indices(value: Any, captured: int) -> TypeGuard[list[int]]:
    return isinstance(value, list) and bool(value) and all(isinstance(i, int) and 0 <= i < captured for i in value)


def _table(value: Any, rows: int) -> TypeGuard[list[list[float]]]:
    return isinstance(value, list) and len(value) == rows and all(_row(row) for row in value)


def _row(value: Any) -> TypeGuard[list[float]]:
    """Timings: finite, not negative."""
    return isinstance(value, list) and all(isinstance(t, (int, float)) and t >= 0 and math.isfinite(t) for t in value)
