"""The search's stop rules: its budgets of model calls, generated tokens and seconds, and
the pace (seconds per test run, per candidate) by which the time budget is judged."""

from __future__ import annotations

import time

from .cancel import CancelToken
from .config import SearchConfig
from .report import Node, SearchStats


class BudgetExhausted(Exception):
    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which


class PartialExpansion(Exception):
    """The budget ran out part-way through a node's children."""

    def __init__(self, children: list[Node], reason: BudgetExhausted) -> None:
        super().__init__(reason.which)
        self.children, self.reason = children, reason


class Budget:
    """The search's clock and its counts against the configured limits.

    `reserve_final`: whether the final pick re-measures (optimize mode with tests), so that
    generation must leave it time.
    """

    def __init__(self, config: SearchConfig, stats: SearchStats, cancel: CancelToken, *, reserve_final: bool) -> None:
        self.config = config
        self.stats = stats
        self.cancel = cancel
        self.reserve_final = reserve_final
        self.started = 0.0
        self._run_seconds = 0.0  # in the sandbox, over `_runs` runs
        self._runs = 0
        self.first_node_at: float | None = None  # when generation began

    def start(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def check(self, nodes_so_far: int, upcoming_nodes: int = 0) -> None:
        """Raise BudgetExhausted unless the next step fits.

        The time budget covers the whole search, the final re-measurement
        included: generation stops early enough to leave room for it (two
        interleaved rounds of the original and one finalist, at the runs' own
        pace) and for the nodes about to be generated, at the pace so far.
        """
        self.cancel.raise_if_cancelled()
        cfg = self.config
        if self.stats.llm_calls >= cfg.max_llm_calls:
            raise BudgetExhausted("budget:calls")
        if self.stats.generated_tokens >= cfg.max_generated_tokens:
            raise BudgetExhausted("budget:tokens")
        needed = upcoming_nodes * self._seconds_per_node(nodes_so_far) + self._final_reserve()
        if self.seconds_left() <= needed:
            raise BudgetExhausted("budget:seconds")

    def seconds_left(self) -> float:
        return self.config.max_seconds - (time.perf_counter() - self.started)

    def count_runs(self, seconds: float, runs: int) -> None:
        """`runs` sandboxed runs of the tests took `seconds` in all."""
        self._run_seconds += seconds
        self._runs += runs

    def seconds_per_run(self) -> float:
        """How long one sandboxed run of the tests has taken so far (0 before any)."""
        return self._run_seconds / self._runs if self._runs else 0.0

    def generation_begins(self) -> None:
        if self.first_node_at is None:
            self.first_node_at = time.perf_counter()

    def _seconds_per_node(self, nodes_so_far: int) -> float:
        """Generation, run and review of one candidate, at the pace so far (0 before any)."""
        if not nodes_so_far or self.first_node_at is None:
            return self.seconds_per_run()  # before any: at least its run
        return (time.perf_counter() - self.first_node_at) / nodes_so_far

    def _final_reserve(self) -> float:
        if not self.reserve_final:
            return 0.0
        return 4 * self.seconds_per_run()
