"""The ORPS beam search (Outcome-Refining Process Supervision, arXiv 2412.15118).

Round 0 samples N complete candidates with distinct strategy hints. Each is
executed against the user's tests and profiled, then reviewed by the same
model acting as critic. The step score mixes the critic's process score and
the outcome (tests x efficiency). The top K nodes of each round are refined,
N children each, with the path's history in the conversation, until depth D,
a finished node, or the budget. The final pick never regresses a test the
original passed, and is re-measured before it is chosen.

This module knows nothing of pygls or llama.cpp: it talks to a `ChatModel`
and an `Executor`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import prompts
from .cancel import CancelToken, Cancelled
from .contract import ReportWarning, WarningCode
from .config import SCALING_SHARE, SearchConfig
from .executor import Executor
from .extract import Candidate, behaviour_fingerprint, code_fingerprint, extract_candidate
from .model.base import ChatModel, ChatRequest, Completion, Message
from .report import Critique, CrossCheck, ExecutionReport, Node, PerCallBenchmark, SearchReport, SearchStats
from .scoring import parse_critique, passes_guard, step_scores, usable_per_call
from .scoring import speedup as measured_speedup
from .final_pick import choose_winner, scaling_warning
from .source import FunctionInfo, replace_function


# Of the configured benchmark time, what each candidate's feedback benchmark gets (the
# final pick's gets all of it): enough rounds for an interval, a small share of a step.
FEEDBACK_BENCHMARK_SHARE = 0.25

# What evaluating is spent on (SearchStats.evaluation_breakdown's keys): the runs of the tests,
# each candidate's short per-call benchmark, the original's line profile, the finalists' full
# benchmarks (grown calls included), the calls too slow for those timed side by side, the runs
# alone, a close call's instruction counts, CrossHair.
MEASURES = (
    "test runs",
    "feedback benchmarks",
    "line profile",
    "final benchmarks",
    "heavy calls",
    "runs alone",
    "instruction counts",
    "CrossHair",
)


@dataclass
class SearchTask:
    mode: str  # "optimize" | "solve"
    file: str  # for reports
    source: str  # the module's text as the search starts
    function: FunctionInfo
    tests_source: str = ""  # the selected tests' source, shown to the model
    tests_chosen: dict[str, str] = field(default_factory=dict)  # test file -> why it judges the function


@dataclass
class Progress:
    phase: str  # "baseline" | "generate" | "execute" | "critique" | "measure" | "done"
    round: int
    rounds: int
    candidate: int  # candidates generated so far
    candidates: int  # candidates planned
    best_passed: int | None
    best_total: int | None
    best_speedup: float | None
    fraction: float  # 0..1 of the budget of LLM calls

    def message(self) -> str:
        parts = [f"round {self.round + 1}/{self.rounds}", f"candidate {self.candidate}/{self.candidates}"]
        if self.best_total:
            best = f"best: {self.best_passed}/{self.best_total} tests"
            if self.best_speedup:
                best += (
                    f", {self.best_speedup:.1f}x faster" if self.best_speedup >= 1 else f", {1 / self.best_speedup:.1f}x slower"
                )
            parts.append(best)
        labels = {
            "baseline": "running the original",
            "execute": "running tests",
            "critique": "reviewing",
            "measure": "re-measuring finalists",
        }
        if self.phase in labels:
            parts.append(labels[self.phase])
        return " - ".join(parts)


ProgressCallback = Callable[[Progress], None]


class OriginalDidNotRun(Exception):
    """The original's own test run did not start as it should: nothing can be judged."""

    def __init__(self, reason: str, output_tail: str) -> None:
        super().__init__(reason)
        self.reason, self.output_tail = reason, output_tail


class BudgetExhausted(Exception):
    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which


class _Partial(Exception):
    """The budget ran out part-way through a node's children."""

    def __init__(self, children: list[Node], reason: BudgetExhausted) -> None:
        super().__init__(reason.which)
        self.children, self.reason = children, reason


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
        self._executed: dict[str, ExecutionReport] = {}
        self._candidates: dict[int, Candidate] = {}  # node id -> parsed candidate
        self._started = 0.0
        self._round = 0
        self.original: ExecutionReport | None = None
        self.context: prompts.TaskContext | None = None
        self._run_seconds = 0.0  # in the sandbox, over `_runs` runs
        self._runs = 0
        self._first_node_at: float | None = None  # when generation began

    # ------------------------------------------------- what the final pick reads (final_pick.Lab)
    @property
    def mode(self) -> str:
        return self.task.mode

    @property
    def original_source(self) -> str:
        return self.task.source

    @property
    def verified(self) -> bool:
        return self.executor is not None

    # ----------------------------------------------------------------- budget
    def _check_budget(self, upcoming_nodes: int = 0) -> None:
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
        needed = upcoming_nodes * self._seconds_per_node() + self._final_reserve()
        if self.seconds_left() <= needed:
            raise BudgetExhausted("budget:seconds")

    def seconds_left(self) -> float:
        return self.config.max_seconds - (time.perf_counter() - self._started)

    def seconds_per_run(self) -> float:
        """How long one sandboxed run of the tests has taken so far (0 before any)."""
        return self._run_seconds / self._runs if self._runs else 0.0

    def _seconds_per_node(self) -> float:
        """Generation, run and review of one candidate, at the pace so far (0 before any)."""
        if not self.nodes or self._first_node_at is None:
            return self.seconds_per_run()  # before any: at least its run
        return (time.perf_counter() - self._first_node_at) / len(self.nodes)

    def _final_reserve(self) -> float:
        if self.task.mode != "optimize" or self.executor is None or self.config.no_tests:
            return 0.0
        return 4 * self.seconds_per_run()

    @contextmanager
    def _measuring(self, what: str) -> Iterator[None]:
        """Time spent evaluating, counted in the total and under `what` (one of MEASURES)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.stats.evaluation_seconds += elapsed
            breakdown = self.stats.evaluation_breakdown
            breakdown[what] = breakdown.get(what, 0.0) + elapsed

    def timed_run(self, source: str, **options) -> ExecutionReport:
        started = time.perf_counter()
        with self._measuring("test runs"):
            report = self.executor.run(source, **options)
        self._run_seconds += time.perf_counter() - started
        self._runs += 1 + max(0, options.get("repeats", 1) - 1) + bool(options.get("measure_coverage"))
        return report

    def cross_check(self, node: Node) -> CrossCheck | None:
        """The executor's extra oracle (CrossHair) on a candidate about to be offered, in the
        time left (three more runs of the tests besides its own search)."""
        with self._measuring("CrossHair"):
            return self.executor.cross_check(self.module_for(node), seconds_left=self.seconds_left() - 3 * self.seconds_per_run())

    def benchmark(self, node: Node, share: float = 1.0, scaling: bool = False) -> PerCallBenchmark | None:
        """The node's function timed beside the original's on the captured calls (None: no calls),
        for `share` of the configured time; then on grown calls when `scaling` (and not off)."""
        grow = SCALING_SHARE * self.config.benchmark_seconds if scaling and self.config.scaling != "off" else 0.0
        with self._measuring("final benchmarks" if scaling else "feedback benchmarks"):
            return self.executor.benchmark(self.module_for(node), seconds=share * self.config.benchmark_seconds, scaling=grow)

    def time_heavy_calls(self, node: Node, bench: PerCallBenchmark) -> None:
        """Its function beside the original's on the calls too slow to time per call."""
        with self._measuring("heavy calls"):
            self.executor.time_heavy_calls(self.module_for(node), bench)

    def confirm_benchmark(self, node: Node, bench: PerCallBenchmark, *, heavy_only: bool = False) -> None:
        """Its per-call figure checked from outside: each version run alone (two runs)."""
        with self._measuring("runs alone"):
            self.executor.confirm_benchmark(self.module_for(node), bench, heavy_only=heavy_only)

    def count_instructions_per_call(self, node: Node, bench: PerCallBenchmark) -> None:
        """A close call's instructions, counted from outside (three runs under the counter)."""
        with self._measuring("instruction counts"):
            self.executor.count_instructions_per_call(self.module_for(node), bench)

    def _planned_candidates(self) -> int:
        cfg = self.config
        return cfg.expansions + (cfg.depth - 1) * cfg.beam_width * cfg.expansions

    def _emit(self, phase: str) -> None:
        if self._progress is None:
            return
        best = self._best_so_far()
        speedup = None
        if best is not None and self.original is not None and self.task.mode == "optimize":
            speedup = measured_speedup(self.original, best.execution)
        cfg = self.config
        calls_planned = min(cfg.max_llm_calls, self._planned_candidates() * (2 if cfg.use_critic else 1))
        self._progress(
            Progress(
                phase=phase,
                round=self._round,
                rounds=cfg.depth,
                candidate=len(self.nodes),
                candidates=self._planned_candidates(),
                best_passed=best.execution.passed if best else (self.original.passed if self.original else None),
                best_total=best.execution.total if best else (self.original.total if self.original else None),
                best_speedup=speedup,
                fraction=min(1.0, self.stats.llm_calls / max(1, calls_planned)),
            )
        )

    def _best_so_far(self) -> Node | None:
        guarded = [
            n
            for n in self.nodes
            if n.execution is not None and self.original is not None and passes_guard(self.original, n.execution)
        ]
        if not guarded:
            return None
        return max(guarded, key=lambda n: (n.execution.passed, measured_speedup(self.original, n.execution) or 0.0))

    # -------------------------------------------------------------- the model
    def _request(
        self, messages: list[Message], *, prefill: str, max_tokens: int, temperature: float, stop: list[str], index: int = 0
    ) -> ChatRequest:
        remaining = self.config.max_generated_tokens - self.stats.generated_tokens
        return ChatRequest(
            messages=messages,
            prefill=prefill,
            max_tokens=max(16, min(max_tokens, remaining)),
            temperature=temperature,
            seed=self.config.seed + self.stats.llm_calls + index,  # reproducible, distinct per call
            stop=stop,
        )

    def _account(self, completion: Completion) -> None:
        s = self.stats
        s.llm_calls += 1
        s.prompt_tokens_sent += completion.prompt_tokens
        s.prompt_tokens_evaluated += completion.prompt_tokens_evaluated
        s.generated_tokens += completion.completion_tokens
        s.generation_seconds += completion.generation_seconds
        s.prompt_seconds += completion.prompt_seconds

    def _call(self, request: ChatRequest, upcoming_nodes: int = 0) -> Completion:
        self._check_budget(upcoming_nodes)
        r = request
        completion = self.model.chat(
            r.messages,
            prefill=r.prefill,
            max_tokens=r.max_tokens,
            temperature=r.temperature,
            seed=r.seed,
            stop=r.stop,
            cancel=self.cancel,
        )
        self._account(completion)
        return completion

    def _programmer_request(self, messages: list[Message], index: int = 0) -> ChatRequest:
        prefill = prompts.programmer_prefill(self.task.function) if self.config.prefill else ""
        return self._request(
            messages,
            prefill=prefill,
            max_tokens=self.config.max_code_tokens,
            temperature=self.config.temperature,
            stop=["\n```", "\nif __name__", "\n# Test", "\n# Example"],
            index=index,
        )

    def _expand(self, parent: Node | None, conversations: list[tuple[list[Message], str]]) -> list[Node]:
        """Generate one child per (messages, strategy), within the budget.

        A backend with free parallel slots gets the children of a node as one
        batch; otherwise they are generated one by one, in order, so that the
        shared prompt prefix stays in the KV cache.
        """
        parallel = getattr(self.model, "max_parallel", 1) > 1 and hasattr(self.model, "chat_many")
        children: list[Node] = []
        if self._first_node_at is None:
            self._first_node_at = time.perf_counter()
        if parallel:
            self._check_budget(upcoming_nodes=len(conversations))
            room = self.config.max_llm_calls - self.stats.llm_calls
            batch = conversations[:room]
            requests = [self._programmer_request(messages, index) for index, (messages, _) in enumerate(batch)]
            completions = self.model.chat_many(requests, cancel=self.cancel)
            for request, completion, (_, strategy) in zip(requests, completions, batch):
                self._account(completion)
                children.append(self._node_from(request, completion, parent, strategy))
            if len(batch) < len(conversations):
                raise _Partial(children, BudgetExhausted("budget:calls"))
            return children
        for messages, strategy in conversations:
            try:
                request = self._programmer_request(messages)
                completion = self._call(request, upcoming_nodes=1)
            except BudgetExhausted as exhausted:
                raise _Partial(children, exhausted) from None
            children.append(self._node_from(request, completion, parent, strategy))
        return children

    def _node_from(self, request: ChatRequest, completion: Completion, parent: Node | None, strategy: str) -> Node:
        prefill = request.prefill
        text = prefill + completion.text
        if prefill and "```" not in completion.text:
            text += "\n```"
        candidate = extract_candidate(text, self.task.function)
        node = Node(
            id=len(self.nodes),
            parent=parent.id if parent else None,
            depth=parent.depth + 1 if parent else 0,
            strategy=strategy,
            reasoning=_comment_reasoning(candidate.definitions) or candidate.reasoning,
            code=candidate.code if candidate.ok else text,
            valid=candidate.ok,
            invalid_reason=candidate.error,
            llm_calls=1,
            generated_tokens=completion.completion_tokens,
        )
        self._candidates[node.id] = candidate
        self.nodes.append(node)
        self._emit("generate")
        return node

    def _critique(self, node: Node) -> None:
        if not self.config.use_critic or not node.valid:
            return
        messages = prompts.critic(self.context, node.code, node.execution)
        completion = self._call(
            self._request(
                messages,
                prefill=prompts.CRITIC_PREFILL,
                max_tokens=self.config.max_critic_tokens,
                temperature=self.config.critic_temperature,
                stop=["\n\n\n"],
            )
        )
        node.critique = parse_critique(prompts.CRITIC_PREFILL + completion.text)
        node.llm_calls += 1
        node.generated_tokens += completion.completion_tokens

    # --------------------------------------------------------------- execution
    def module_for(self, node: Node) -> str:
        candidate = self._candidates[node.id]
        return replace_function(
            self.task.source, self.task.function.qualname, candidate.imports, candidate.definitions, candidate.module_definitions
        )

    def _execute(self, node: Node) -> None:
        if not node.valid or self.executor is None or self.config.no_tests:
            return
        self.cancel.raise_if_cancelled()
        try:
            module = self.module_for(node)
        except Exception as exc:  # the candidate cannot be put in place
            node.valid, node.invalid_reason = False, f"cannot be placed in the module: {exc}"
            return
        key = code_fingerprint(module)
        if key not in self._executed:
            self._executed[key] = self.timed_run(module, repeats=1)
            self.stats.candidates_executed += 1
            self._time_per_call(node, self._executed[key])
        node.execution = self._executed[key]

    def _time_per_call(self, node: Node, report: ExecutionReport) -> None:
        """A short per-call benchmark of a candidate that keeps every test and behaves like the
        original: its speed-up per call goes into its feedback and its efficiency score (a whole
        test run's time is mostly pytest's). The final pick times its finalists again, in full."""
        if (
            self.task.mode != "optimize"
            or self.original is None
            or not passes_guard(self.original, report)
            or report.behaves_differently
        ):
            return
        report.per_call = self.benchmark(node, share=FEEDBACK_BENCHMARK_SHARE)

    def _score(self, node: Node) -> None:
        report = None if (self.config.no_tests or self.executor is None) else node.execution
        node.scores = step_scores(
            node.critique, report, self.original, alpha=self.config.alpha, beta=self.config.beta, mode=self.task.mode
        )
        if not node.valid:
            node.scores.step = 0.0

    def _evaluate(self, children: list[Node]) -> None:
        """Execute all children first, then critique them: the critic sees the reports,
        and the critic prompts run back to back (shared prefix)."""
        self._emit("execute")
        for node in children:
            self._execute(node)
        self._emit("critique")
        exhausted = None
        for node in children:
            if exhausted is None:
                try:
                    self._critique(node)
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
            children = self._expand(parent, conversations)
        except _Partial as partial:
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
        unverified = self.config.no_tests or self.executor is None
        critic_done = bool(node.critique and node.critique.done)
        if unverified:
            return critic_done
        if (self.config.use_critic and not critic_done) or node.execution is None:
            return False
        report = node.execution
        if report.passed == 0 or report.failed:
            return False
        if self.task.mode == "solve":
            return True
        if self.is_the_original(node):
            return False  # a copy measured faster by chance: nothing was found yet
        bench = usable_per_call(report)
        # Timed per call, done means clear of the bar; over whole runs, the figure itself.
        ratio = bench.low if bench is not None else measured_speedup(self.original, report)
        return bool(ratio and ratio >= self.config.min_speedup)

    def is_the_original(self, node: Node) -> bool:
        """The original's own code once comments and docstrings are set aside (never offered)."""
        try:
            return behaviour_fingerprint(self.module_for(node)) == behaviour_fingerprint(self.task.source)
        except Exception:  # noqa: BLE001 - a candidate that cannot be placed is no copy
            return False

    # ------------------------------------------------------------------- main
    def run(self) -> SearchReport:
        cfg = self.config
        self._started = time.perf_counter()
        self.original = self._baseline()
        if self.executor is not None and not cfg.no_tests:
            reason = self.original.start_error
            # A stub's tests may all skip themselves (`except NotImplementedError: pytest.skip()`):
            # in solve mode the answer is what can make them run.
            stub_skips = self.task.mode == "solve" and self.original.total and self.original.skipped == self.original.total
            if reason and not stub_skips:
                raise OriginalDidNotRun(reason, self.original.output_tail)
        self.context = prompts.TaskContext(
            mode=self.task.mode,
            function=self.task.function,
            tests_source=self.task.tests_source,
            original_report=self.original if self.executor is not None and not cfg.no_tests else None,
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

    def _baseline(self) -> ExecutionReport:
        self._emit("baseline")
        if self.executor is None or self.config.no_tests:
            return ExecutionReport(error="not run (no tests)")
        repeats = 1 if self.task.mode == "solve" else max(1, self.config.timing_repeats // 2)
        report = self.timed_run(self.task.source, repeats=repeats, measure_coverage=True)
        if self.task.mode == "optimize" and report.passed:
            with self._measuring("line profile"):
                report.line_profile = self.executor.line_profile(seconds=FEEDBACK_BENCHMARK_SHARE * self.config.benchmark_seconds)
        return report

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
            original=self.original,
            nodes=self.nodes,
            config=self.config.to_dict(),
            stats=self.stats,
            tests=dict(self.task.tests_chosen),
        )
        report.warnings = self._warnings()
        decision = choose_winner(self, report)
        report.best_id = decision.node.id if decision.node else None
        report.improved = decision.improved
        report.partial = decision.partial
        report.verdict = decision.verdict
        if decision.original_remeasured is not None:
            report.original = decision.original_remeasured
        if decision.node is not None:
            report.new_source = self.module_for(decision.node)
            growth = scaling_warning(decision.node.execution.per_call if decision.node.execution else None)
            if growth:
                report.warnings.append(ReportWarning(WarningCode.SCALING, f"The chosen candidate: {growth}."))
        self.stats.wall_seconds = time.perf_counter() - self._started
        self._emit("done")
        return report

    def _warnings(self) -> list[ReportWarning]:
        warnings = []
        original = self.original
        if self.config.no_tests or self.executor is None:
            warnings.append(
                ReportWarning(
                    WarningCode.NO_TESTS,
                    "NO TESTS: nothing was executed; the result is judged by the model alone and is unverified.",
                )
            )
            return warnings
        if original.failed and self.task.mode == "optimize":
            warnings.append(
                ReportWarning(
                    WarningCode.ORIGINAL_FAILS,
                    f"the original fails {original.failed} of {original.total} tests; the guard keeps only the tests it passes",
                )
            )
        if original.skipped and self.task.mode == "optimize":
            warnings.append(
                ReportWarning(
                    WarningCode.TESTS_SKIP,
                    f"{original.skipped} of {original.total} tests skip themselves with the original; they judge nothing",
                )
            )
        if original.coverage is not None and original.coverage < self.config.coverage_warning and self.task.mode == "optimize":
            warnings.append(
                ReportWarning(
                    WarningCode.WEAK_TESTS,
                    f"weak tests: they run only {original.coverage:.0%} of the function's lines; "
                    "a faster version may be wrong where they do not look",
                )
            )
        if original.error and self.task.mode == "optimize":
            warnings.append(ReportWarning(WarningCode.ORIGINAL_ERROR, f"the original did not run cleanly: {original.error}"))
        return warnings


def _comment_reasoning(code: str) -> str:
    """The model writes its plan as comments in the body (the answer is prefilled)."""
    comments = [line.strip()[1:].strip() for line in code.splitlines() if line.strip().startswith("#")]
    return " ".join(comments)[:600]


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


__all__ = ["SearchTask", "Progress", "run_search", "OrpsSearch", "OriginalDidNotRun", "Cancelled", "Critique"]
