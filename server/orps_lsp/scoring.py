"""Critic parsing, step scores and the regression guard.

Step score (the paper's reward): alpha * process + beta * outcome, where
process is the critic's 1-5 score mapped to [0, 1] and outcome is the test
pass ratio times an efficiency factor relative to the original.
"""

from __future__ import annotations

import math
import re

from .report import Critique, ExecutionReport, PerCallBenchmark, Scores

_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*\[?\s*([1-5])(?:\.\d+)?\s*\]?\s*(?:/\s*5)?", re.IGNORECASE)
_OUT_OF_FIVE = re.compile(r"\b([1-5])(?:\.\d+)?\s*(?:/|out of)\s*5\b", re.IGNORECASE)
_DONE = re.compile(r"done\s*[:=]?\s*\**\s*(yes|no|true|false)", re.IGNORECASE)
_CRITIQUE = re.compile(r"critique\s*[:=]?\s*(.*?)(?=\n\s*\**\s*(?:score|done)\b|\Z)", re.IGNORECASE | re.DOTALL)


def parse_critique(raw: str) -> Critique:
    """Read 'Critique: ... Score: N Done: yes/no' leniently; never raises.

    A missing or malformed score leaves `score` None, which counts as the
    lowest process score.
    """
    text = (raw or "").strip()
    score_match = _SCORE.search(text) or _OUT_OF_FIVE.search(text)
    done_match = _DONE.search(text)
    critique_match = _CRITIQUE.search(text)
    critique = (critique_match.group(1) if critique_match else text).strip()
    while critique.lower().startswith("critique:"):  # the prefill repeated by the model
        critique = critique[len("critique:") :].strip()
    if not critique_match and score_match:
        critique = text[: score_match.start()].strip()
    return Critique(
        text=" ".join(critique.split())[:800],
        score=int(score_match.group(1)) if score_match else None,
        done=bool(done_match and done_match.group(1).lower() in ("yes", "true")),
        raw=raw,
    )


# How much each measure counts in the efficiency ratio (weights of a geometric mean).
EFFICIENCY_WEIGHTS = {"time": 0.6, "instructions": 0.0, "memory": 0.2, "complexity": 0.2}


# CPU time (process_time) moves in steps of milliseconds on many machines: below this, judge wall time.
CPU_RESOLUTION = 0.05


def comparable_times(
    original: ExecutionReport, candidate: ExecutionReport, *, instructions: bool = False
) -> tuple[float | None, float | None, str]:
    """(original's, candidate's, measure) of two test runs, on one measure (never one of each):
    with `instructions`, the instruction counts when both runs were counted; else CPU time when
    both are long enough for its resolution; else wall time. The one place "the time that
    counts" of a whole run is decided."""
    if instructions and original.instructions and candidate.instructions:
        return float(original.instructions), float(candidate.instructions), "instructions"
    if (original.cpu_time or 0.0) >= CPU_RESOLUTION and (candidate.cpu_time or 0.0) >= CPU_RESOLUTION:
        return original.cpu_time, candidate.cpu_time, "CPU time"
    return original.wall_time, candidate.wall_time, "wall time"


def usable_per_call(report: ExecutionReport) -> PerCallBenchmark | None:
    """The report's per-call figure where it is one to judge speed by (measured, answers
    alike, no state kept between calls)."""
    bench = report.per_call
    if bench is None or bench.speedup is None or bench.different or bench.state:
        return None
    return bench


def speedup(original: ExecutionReport, candidate: ExecutionReport, *, instructions: bool = False) -> float | None:
    """How many times faster the candidate ran than the original: per call where it was timed
    so, else over the tests' runs (comparable_times; None when a time is missing)."""
    bench = usable_per_call(candidate)
    if bench is not None:
        return bench.speedup
    o, c, _ = comparable_times(original, candidate, instructions=instructions)
    return o / c if o and c else None


def _ratio(original: float | None, candidate: float | None, floor: float) -> float | None:
    if original is None or candidate is None:
        return None
    return max(original, floor) / max(candidate, floor)


def efficiency_ratio(original: ExecutionReport, candidate: ExecutionReport) -> float:
    """Weighted geometric mean of original/candidate for time, instructions, memory, complexity.

    Above 1: the candidate is better. Measures either side lacks are left out.
    """
    ratios = {
        "time": speedup(original, candidate)
        if usable_per_call(candidate)
        else _ratio(*comparable_times(original, candidate)[:2], 1e-5),
        "instructions": _ratio(original.instructions, candidate.instructions, 1.0),
        "memory": _ratio(original.peak_rss_kb, candidate.peak_rss_kb, 1.0),
        "complexity": _ratio(original.static.cyclomatic_complexity or None, candidate.static.cyclomatic_complexity or None, 1.0),
    }
    if ratios["instructions"] is not None:
        weights = {"time": 0.3, "instructions": 0.3, "memory": 0.2, "complexity": 0.2}
    else:
        weights = EFFICIENCY_WEIGHTS
    used = {k: v for k, v in ratios.items() if v is not None and weights[k] > 0}
    if not used:
        return 1.0
    total = sum(weights[k] for k in used)
    return math.exp(sum(weights[k] * math.log(v) for k, v in used.items()) / total)


def step_scores(
    critique: Critique | None,
    report: ExecutionReport | None,
    original: ExecutionReport | None,
    *,
    alpha: float,
    beta: float,
    mode: str,
) -> Scores:
    process = critique.process_score if critique else 0.0
    if report is None:  # --no-tests: the critic alone judges
        return Scores(process=process, outcome=0.0, pass_ratio=0.0, efficiency=1.0, step=alpha * process, alpha=alpha, beta=beta)
    pass_ratio = report.pass_ratio
    if mode == "optimize" and original is not None and report.total:
        ratio = efficiency_ratio(original, report)
        efficiency = ratio / (1.0 + ratio)  # in (0, 1): 0.5 at parity, 0.75 when 3x better
    else:
        efficiency = 1.0
    outcome = pass_ratio * efficiency
    return Scores(
        process=process,
        outcome=outcome,
        pass_ratio=pass_ratio,
        efficiency=efficiency,
        step=alpha * process + beta * outcome,
        alpha=alpha,
        beta=beta,
    )


def passes_guard(original: ExecutionReport, candidate: ExecutionReport) -> bool:
    """The regression guard: every test the original passed, the candidate passes too,
    and on the original's captured calls it behaves as the original does."""
    if candidate.error and not candidate.tests:
        return False
    if candidate.behaves_differently:
        return False
    return original.passed_ids() <= candidate.passed_ids() and candidate.passed > 0
