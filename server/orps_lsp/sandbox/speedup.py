"""How much faster per call, with its 95% interval, from interleaved timings.

The benchmark (benchmark.py) times the original and the candidate on each captured
call, alternately, in rounds. Within a round both meet the same machine: a round's
ratio (the original's summed per-call times over the candidate's) is free of the
drift between rounds (load, frequency). The speed-up is the median of those ratios;
its interval comes from order statistics (the median of n independent rounds lies
between the k-th smallest and the k-th largest ratio with a binomial probability),
so it needs no assumption about the noise's shape and no resampling.

Pure arithmetic: the sandbox uses it to know when to stop, the executor (on the
trusted side) recomputes every figure from the raw timings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CONFIDENCE = 0.95
MIN_ROUNDS = 6  # the fewest rounds whose extreme ratios bound the median at 95% (1 - 2/2**6 > 0.95)


@dataclass
class Estimate:
    speedup: float | None  # the original's time over the candidate's; None: not enough rounds
    low: float | None
    high: float | None
    rounds: int

    def half_width(self) -> float:
        """The interval's half-width relative to the estimate (inf when there is none)."""
        if not self.speedup or self.low is None or self.high is None:
            return math.inf
        return (self.high - self.low) / (2 * self.speedup)


def estimate(original: list[list[float]], candidate: list[list[float]]) -> Estimate:
    """`original[i][r]`, `candidate[i][r]`: seconds per call of call i in round r."""
    ratios = round_ratios(original, candidate)
    rounds = len(ratios)
    if rounds < MIN_ROUNDS:
        return Estimate(None, None, None, rounds)
    ratios.sort()
    k = order_statistic_rank(rounds)
    return Estimate(median(ratios), ratios[k - 1], ratios[rounds - k], rounds)


def round_ratios(original: list[list[float]], candidate: list[list[float]]) -> list[float]:
    rounds = min((len(times) for times in original + candidate), default=0)
    ratios = []
    for r in range(rounds):
        before = sum(times[r] for times in original)
        after = sum(times[r] for times in candidate)
        if after > 0:
            ratios.append(before / after)
    return ratios


def order_statistic_rank(n: int, confidence: float = CONFIDENCE) -> int:
    """The largest k such that [x_(k), x_(n-k+1)] holds the median with at least
    `confidence` (x sorted, 1-based): P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2."""
    tail, k, below = (1 - confidence) / 2, 0, 0.0
    while k < n // 2:
        below += math.comb(n, k) / 2**n  # P(X = k) added: P(X <= k)
        if below > tail:
            break
        k += 1
    return max(k, 1)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
