"""The ORPS beam search (Outcome-Refining Process Supervision, arXiv 2412.15118).

Round 0 samples N complete candidates with distinct strategy hints. Each is
executed against the user's tests and profiled, then reviewed by the same
model acting as critic. The step score mixes the critic's process score and
the outcome (tests x efficiency). The top K nodes of each round are refined,
N children each, with the path's history in the conversation, until depth D,
a finished node, or the budget. The final pick never regresses a test the
original passed, and is re-measured before it is chosen.

This module holds the search's loop and the report it ends with; its parts live beside it:
the task and progress types (search_task), the stop rules (budget), the model's calls as
programmer and critic (model_calls), running and measuring candidates (search_lab), the
report's warnings (search_warnings). It knows nothing of pygls or llama.cpp: it talks to a
`ChatModel` and an `Executor`.
"""

from __future__ import annotations

from . import prompts
from .budget import Budget, BudgetExhausted, PartialExpansion
from .cancel import CancelToken, Cancelled
from .config import SearchConfig
from .executor import Executor
from .final_pick import choose_winner
from .model.base import ChatModel, Message
from .model_calls import ModelCalls
from .report import Critique, ExecutionReport, Node, SearchReport, SearchStats
from .scoring import passes_guard, step_scores, usable_per_call
from .scoring import speedup as measured_speedup
from .search_lab import FEEDBACK_BENCHMARK_SHARE, MEASURES, SearchLab
from .search_task import OriginalDidNotRun, Progress, ProgressCallback, SearchTask
from .search_warnings import chosen_warning, original_warnings, unverified_warning


class OrpsSearch:
    def __init__(
        self,
        task: SearchTask,
        model: ChatModel,
        executor: Executor | None,
        config: SearchConfig | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.task = task
        self.model = model
        self.executor = executor
        self.config = config or SearchConfig()
        self._progress = progress
        self.cancel = cancel or CancelToken()
        self.stats = SearchStats()
        self.nodes: list[Node] = []
        self._round = 0
        self.context: prompts.TaskContext | None = None
        # The final pick re-measures only when optimising with tests: then generation leaves it time.
        reserve_final = task.mode == "optimize" and executor is not None and not self.config.no_tests
        self.budget = Budget(self.config, self.stats, self.cancel, reserve_final=reserve_final)
        self.lab = SearchLab(task, executor, self.config, self.stats, self.budget, self.cancel)
        self.calls = ModelCalls(
            model,
            task.function,
            self.config,
            self.stats,
            self.budget,
            self.cancel,
            nodes=self.nodes,
            candidates=self.lab.candidates,
            generated=lambda: self._emit("generate"),
        )

    @property
    def original(self) -> ExecutionReport | None:
        """The original's report (None until it has run)."""
        return self.lab.baseline

    @property
    def _verified(self) -> bool:
        return not (self.config.no_tests or self.executor is None)

    # --------------------------------------------------------------- progress
    def _planned_candidates(self) -> int:
        cfg = self.config
        return cfg.expansions + (cfg.depth - 1) * cfg.beam_width * cfg.expansions

    def _emit(self, phase: str) -> None:
        if self._progress is None:
            return
        best = self._best_so_far()
        speedup = None
        if best is not None and self.original is not None and self.task.mode == "optimize":
            speedup = measured_speedup(self.original, best)
        cfg = self.config
        calls_planned = min(cfg.max_llm_calls, self._planned_candidates() * (2 if cfg.use_critic else 1))
        self._progress(
            Progress(
                phase=phase,
                round=self._round,
                rounds=cfg.depth,
                candidate=len(self.nodes),
                candidates=self._planned_candidates(),
                best_passed=best.passed if best else (self.original.passed if self.original else None),
                best_total=best.total if best else (self.original.total if self.original else None),
                best_speedup=speedup,
                fraction=min(1.0, self.stats.llm_calls / max(1, calls_planned)),
            )
        )

    def _best_so_far(self) -> ExecutionReport | None:
        """The report of the best guarded node so far: most tests passed, then fastest."""
        original = self.original
        if original is None:
            return None
        guarded = [n.execution for n in self.nodes if n.execution is not None and passes_guard(original, n.execution)]
        if not guarded:
            return None
        return max(guarded, key=lambda r: (r.passed, measured_speedup(original, r) or 0.0))

    # ------------------------------------------------------------ one step
    def _score(self, node: Node) -> None:
        report = node.execution if self._verified else None
        node.scores = step_scores(
            node.critique, report, self.original, alpha=self.config.alpha, beta=self.config.beta, mode=self.task.mode
        )
        if not node.valid:
            node.scores.step = 0.0

    def _evaluate(self, children: list[Node]) -> None:
        """Execute all children first, then critique them: the critic sees the reports,
        and the critic prompts run back to back (shared prefix)."""
        assert self.context is not None, "the task's context is set before the first candidate"
        self._emit("execute")
        for node in children:
            self.lab.execute(node)
        self._emit("critique")
        exhausted = None
        for node in children:
            if exhausted is None:
                try:
                    self.calls.critique(self.context, node)
                except BudgetExhausted as exc:
                    exhausted = exc  # score the rest on their outcome alone
            self._score(node)
        if exhausted is not None:
            raise exhausted

    def _expand_and_evaluate(self, parent: Node | None, conversations: list[tuple[list[Message], str]]) -> list[Node]:
        """A node's children: generated together, then executed, then critiqued.

        Children generated before the budget ran out are still evaluated, so
        nothing paid for is thrown away.
        """
        try:
            children = self.calls.expand(parent, conversations)
        except PartialExpansion as partial:
            self._evaluate(partial.children)
            raise partial.reason from None
        self._evaluate(children)
        return children

    def _path(self, node: Node) -> list[prompts.Step]:
        chain = []
        current: Node | None = node
        while current is not None:
            chain.append(prompts.Step(code=current.code, report=current.execution, critique=current.critique))
            current = self.nodes[current.parent] if current.parent is not None else None
        return list(reversed(chain))

    def _is_finished(self, node: Node) -> bool:
        """Nothing left to refine on this node.

        With tests: every test passes and (optimising) it is faster, and the
        critic, when there is one, says done. Without tests (the paper's
        no-execution ablation) the critic's done is all there is to go by.
        """
        if not node.valid:
            return False
        critic_done = bool(node.critique and node.critique.done)
        if not self._verified:
            return critic_done
        if (self.config.use_critic and not critic_done) or node.execution is None:
            return False
        report = node.execution
        if report.passed == 0 or report.failed:
            return False
        if self.task.mode == "solve":
            return True
        if self.lab.is_the_original(node):
            return False  # a copy measured faster by chance: nothing was found yet
        bench = usable_per_call(report)
        # Timed per call, done means clear of the bar; over whole runs, the figure itself.
        ratio = bench.low if bench is not None else measured_speedup(self.lab.original, report)
        return bool(ratio and ratio >= self.config.min_speedup)

    # ------------------------------------------------------------------- main
    def run(self) -> SearchReport:
        cfg = self.config
        self.budget.start()
        self._emit("baseline")
        original = self.lab.run_original()
        if self.executor is not None and not cfg.no_tests:
            reason = original.start_error
            # A stub's tests may all skip themselves (`except NotImplementedError: pytest.skip()`):
            # in solve mode the answer is what can make them run.
            stub_skips = self.task.mode == "solve" and original.total and original.skipped == original.total
            if reason and not stub_skips:
                raise OriginalDidNotRun(reason, original.output_tail)
        self.context = prompts.TaskContext(
            mode=self.task.mode,
            function=self.task.function,
            tests_source=self.task.tests_source,
            original_report=original if self.executor is not None and not cfg.no_tests else None,
        )
        strategies = prompts.STRATEGIES
        stopped_by = "depth"
        try:
            first = [
                (prompts.first_attempt(self.context, strategies[i % len(strategies)]), strategies[i % len(strategies)])
                for i in range(cfg.expansions)
            ]
            children = self._expand_and_evaluate(None, first)
            beam = self._select_beam(children)
            for depth in range(1, cfg.depth):
                if any(self._is_finished(n) for n in self.nodes):
                    stopped_by = "done"
                    break
                self._round = depth
                children = []
                for parent in beam:
                    history = self._path(parent)
                    offset = depth * cfg.expansions + parent.id
                    conversations = [
                        (
                            prompts.refinement(self.context, history, strategies[(offset + i) % len(strategies)]),
                            strategies[(offset + i) % len(strategies)],
                        )
                        for i in range(cfg.expansions)
                    ]
                    children += self._expand_and_evaluate(parent, conversations)
                beam = self._select_beam(children) or beam
            else:
                if any(self._is_finished(n) for n in self.nodes):
                    stopped_by = "done"
        except BudgetExhausted as exhausted:
            stopped_by = exhausted.which
        self.stats.stopped_by = stopped_by
        return self._finish()

    def _select_beam(self, children: list[Node]) -> list[Node]:
        ranked = sorted(children, key=lambda n: (n.valid, n.scores.step), reverse=True)
        return [n for n in ranked if n.valid][: self.config.beam_width] or ranked[: self.config.beam_width]

    def _finish(self) -> SearchReport:
        self._emit("measure")
        report = SearchReport(
            mode=self.task.mode,
            file=self.task.file,
            function=self.task.function.qualname,
            model=getattr(self.model, "name", "model"),
            original_code=self.task.function.source,
            original=self.lab.original,
            nodes=self.nodes,
            config=self.config.to_dict(),
            stats=self.stats,
            tests=dict(self.task.tests_chosen),
        )
        report.warnings = (
            original_warnings(self.lab.original, self.config, self.task.mode) if self._verified else [unverified_warning()]
        )
        decision = choose_winner(self.lab, report)
        report.best_id = decision.node.id if decision.node else None
        report.improved = decision.improved
        report.partial = decision.partial
        report.verdict = decision.verdict
        if decision.original_remeasured is not None:
            report.original = decision.original_remeasured
        if decision.node is not None:
            report.new_source = self.lab.module_for(decision.node)
            warning = chosen_warning(decision.node)
            if warning is not None:
                report.warnings.append(warning)
        self.stats.wall_seconds = self.budget.elapsed()
        self._emit("done")
        return report


def run_search(
    task: SearchTask,
    model: ChatModel,
    executor: Executor | None,
    config: SearchConfig | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SearchReport:
    """The one engine call the CLI, the language server and the benchmarks share."""
    return OrpsSearch(task, model, executor, config, progress=progress, cancel=cancel).run()


__all__ = [
    "SearchTask",
    "Progress",
    "ProgressCallback",
    "run_search",
    "OrpsSearch",
    "OriginalDidNotRun",
    "BudgetExhausted",
    "Cancelled",
    "Critique",
    "FEEDBACK_BENCHMARK_SHARE",
    "MEASURES",
]
