"""PytestExecutor: runs a candidate module against the user's own tests, contained.

Each run copies a snapshot of the project into a fresh private directory,
writes the candidate in place of the target module, and runs pytest there in
its own session with resource limits, a scrubbed environment, the strongest
isolation layer the machine offers (isolation.py) and a results channel the
candidate cannot forge from outside the process (plugin.py). Whatever the
candidate does, `run` returns a report; afterwards no process of the run is
left and only the private directory has changed.

This module is the facade the rest of the package uses: what a check of a candidate consists
of (its runs, the oracle's replay, the benchmarks). The work is done elsewhere, one job a
module: starting a run (launch.py), waiting for it (waiting.py), one run from start to end
(runner.py), its report (reporting.py) and the extra runs that measure it (measuring.py).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ..cancel import CancelToken
from ..discovery import import_roots, module_names
from ..executor import ExecutionTarget
from ..report import BehaviourCheck, CaptureSummary, CrossCheck, ExecutionReport, LineProfile, PerCallBenchmark
from ..source import find_function
from . import capture, instructions, isolation, per_call, speedup, warm
from .generate import draw_inputs, proposed_inputs, symbolic_layout
from .judge import JudgeFiles
from .launch import Launcher, Mode, mentions_hypothesis, python_path
from .limits import disk_bytes
from .measuring import InstructionCounts, adapted_time_limits, repeat
from .metrics import static_metrics
from .oracle import Oracle, add_generated, build_oracle, compare, raised_on
from .pids import PidsCgroup
from .protocol import crosshair_cap, replay_plan
from .redact import secret_values
from .reporting import build_report, import_time_refusal, refusal_report, syntax_error
from .runner import MB, Runner
from .verdict import Run
from .workspace import copy_project, private_directory, remove_tree

# The names other modules and the tests import from here. PidsCgroup is used by runner.py;
# it stays importable here for the tests that patch its `create`.
__all__ = ["PidsCgroup", "PytestExecutor", "mentions_hypothesis"]

_DISK_FILES = 4  # a run may write this many maximum-size files' worth beyond its copy

log = logging.getLogger(__name__)


class PytestExecutor:
    """The real `Executor`: the user's pytest tests judge each candidate module.

    Report fields: `wall_time`/`cpu_time` sum the tests' call phases (best of
    the timed repeats); `instructions` counts what the test session executes
    beyond a collect-only run of the original module, so pytest's start-up and
    collection (hundreds of millions of instructions) do not drown the
    difference between candidates; `coverage` is the share of the function
    body's executable lines that the tests ran.
    """

    def __init__(self, target: ExecutionTarget, cancel: CancelToken | None = None) -> None:
        self.target = target
        self.cancel = cancel or CancelToken()
        self.isolation = isolation.resolve(target.limits.isolation)
        self._project_root = target.project_root.resolve()
        self._relative_file = target.file.resolve().relative_to(self._project_root)
        names = module_names(self._project_root, target.file)
        self._private = private_directory()
        self._cleanup = weakref.finalize(self, remove_tree, self._private)
        self._snapshot = self._private / "snapshot"
        copy_project(self._project_root, self._snapshot)
        self._import_roots = import_roots(self._snapshot, self._relative_file)
        hypothesis_unused = find_spec("_hypothesis_pytestplugin") is not None and not mentions_hypothesis(
            self._snapshot, [self._snapshot / p for p in target.tests.test_files], self._snapshot / self._relative_file
        )
        coverage_rc = self._private / "coveragerc"
        launcher = Launcher(
            target,
            self._project_root,
            self._relative_file,
            names,
            _python_path_of(self),
            coverage_rc,
            hypothesis_unused,
        )
        judge = JudgeFiles(self._snapshot, [Path(launcher.in_copy(p)) for p in target.tests.test_files], self._relative_file)
        disk_budget = disk_bytes(self._snapshot, ()) + _DISK_FILES * target.limits.file_size_mb * MB
        self._secrets = secret_values(os.environ)
        self._original_source = _read_text(self._snapshot / self._relative_file)
        self._per_call_counts: dict[per_call.CountKey, float] = {}  # the original's (per_call.count)
        self._slow_seconds: dict[int, float] = {}  # call left out of a benchmark -> the original's time on it, one call
        coverage_rc.write_text("[run]\n")  # the user's coverage settings must not apply
        self._lock = threading.Lock()
        self._reference_ids: list[str] | None = None
        self._reference_known = False
        self._closed = False
        # Every run of this executor: its place, its process, its wait (runner.py).
        self._runner = Runner(
            target,
            self.cancel,
            self.isolation,
            launcher,
            private=self._private,
            snapshot=self._snapshot,
            project_root=self._project_root,
            relative_file=self._relative_file,
            judge=judge,
            disk_budget=disk_budget,
            secret_texts=self._secrets,
        )
        self._instructions = InstructionCounts(self._runner.launch, self._original_source)
        self._oracle: Oracle | None = None  # the original's captured calls, once it has run
        self._behaviour: dict[str, BehaviourCheck] = {}  # by source: a candidate measured again is not replayed again

    # -- public -------------------------------------------------------------

    def run(
        self,
        module_source: str,
        *,
        repeats: int = 1,
        count_instructions: bool = False,
        measure_coverage: bool = False,
    ) -> ExecutionReport:
        if self._closed:
            raise RuntimeError("PytestExecutor is closed")
        self.cancel.raise_if_cancelled()
        is_original = module_source == self._original_source
        refusal = syntax_error(module_source) or ("" if is_original else self._import_time_refusal(module_source))
        if refusal or not is_original:
            self._ensure_reference_ids()

        if refusal:
            report = refusal_report(refusal, self._reference_ids)
        else:
            known = self._behaviour.get(module_source)
            # Set at most once (the original's capture): the oracle of the plan is the one compared with below.
            oracle = self._oracle
            replay = (
                oracle.plan(solve=not self.target.original_is_oracle)
                if oracle is not None and not is_original and known is None
                else None
            )
            first = self._runner.launch(module_source, Mode.PLAIN, replay=replay)
            if is_original:
                self._remember_reference_ids(first)
            report = self._report(first)
            if is_original:
                self._adapt_time_limits(report)
                if self._oracle is None and not report.start_error and (report.passed or not self.target.original_is_oracle):
                    self._oracle = self._capture(module_source)
                    report.capture = self._oracle.summary if self.target.original_is_oracle else None
            elif oracle is not None and replay and first.completed and first.trusted and not self.target.original_is_oracle:
                report.generated_raises = raised_on(oracle, first.records)
            elif oracle is not None and replay and first.completed and first.trusted:
                report.behaviour = self._behaviour[module_source] = compare(oracle, first.records)
            elif known is not None:
                report.behaviour = known
            if first.completed and first.trusted and not report.timed_out:  # a hang would only hang again
                report = repeat(self._runner.launch, self._report, module_source, report, repeats)
                if measure_coverage:
                    report.coverage = self._runner.launch(module_source, Mode.COVERAGE).measurement
                if count_instructions:
                    report.instructions, report.instruction_counter = self._instructions.count(module_source)
        report.static = static_metrics(module_source, self.target.function)
        return report

    def cross_check(self, module_source: str, *, seconds_left: float = float("inf")) -> CrossCheck | None:
        """CrossHair's search for an input on which the candidate differs from the original
        (symbolic.py), in the candidate's run; each input it proposes is then run on the
        original (twice, as generated inputs are) and on the candidate, and compared as
        every other call is. Only a difference seen that way counts."""
        oracle, seconds = self._oracle, self.target.oracle.crosshair_seconds
        if (
            oracle is None
            or not oracle.blobs
            or seconds <= 0
            or not self.target.original_is_oracle
            or module_source == self._original_source
        ):
            return None
        layout = symbolic_layout(oracle.shapes)
        if layout is None:
            return CrossCheck(note="CrossHair: no argument is plain data or typed")
        seconds = min(seconds, (seconds_left - 2) / 2)  # so that crosshair_cap(seconds) fits the time left
        if seconds < 1:
            return CrossCheck(note="CrossHair: no time left in the search's budget")
        self.cancel.raise_if_cancelled()
        asked = {
            "original": self._original_source,
            "layout": layout,
            "seconds": seconds,
            "compare_messages": oracle.compare_messages,
        }
        run = self._runner.launch(
            module_source,
            Mode.PLAIN,
            replay=replay_plan(oracle.blobs, [], bases_only=True, symbolic=asked),
            extra_seconds=crosshair_cap(seconds),
        )
        found = run.records.symbolic if run.completed and run.trusted else None
        if found is None:
            return CrossCheck(note="CrossHair: the candidate's run with it did not complete")
        check = CrossCheck(seconds=float(found.get("seconds") or 0.0), note=str(found.get("note") or ""))
        if check.note:
            check.seconds = None  # it did not search
            return check
        inputs, dropped = proposed_inputs(found.get("inputs") or [])
        check.proposed = len(inputs) + dropped
        if dropped:
            check.note = f"{dropped} of CrossHair's inputs were not plain data and were not tried"
        if not inputs:
            return check
        # Its inputs as an oracle of their own: the original answers them in its own run.
        proposed = Oracle(blobs=oracle.blobs, compare_messages=oracle.compare_messages, generated_label=" (found by CrossHair)")
        original = self._runner.launch(
            self._original_source, Mode.PLAIN, replay=replay_plan(oracle.blobs, inputs, rounds=2, bases_only=True)
        )
        if original.completed and original.trusted:
            add_generated(proposed, inputs, original.records)
        if not proposed.generated:
            check.note = "CrossHair's inputs say nothing: the original did not answer them alike twice, in time"
            return check
        again = self._runner.launch(
            module_source, Mode.PLAIN, replay=replay_plan(oracle.blobs, proposed.generated, bases_only=True)
        )
        if not (again.completed and again.trusted):
            check.note = "CrossHair: the candidate's run on its inputs did not complete"
            return check
        behaviour = compare(proposed, again.records)
        check.different = behaviour.generated_different
        check.differences, check.counterexamples = behaviour.differences, behaviour.counterexamples
        return check

    def benchmark(self, module_source: str, *, seconds: float, scaling: float = 0.0) -> PerCallBenchmark | None:
        """The function itself timed beside the original on the captured calls (per_call.py);
        None where there are no captured calls to time it on (the tests' run times judge then)."""
        oracle = self._oracle
        if oracle is None or not oracle.blobs or not self.target.original_is_oracle or module_source == self._original_source:
            return None
        refusal = syntax_error(module_source) or self._import_time_refusal(module_source)
        if refusal:
            return PerCallBenchmark(note=f"no per-call figure: {refusal}")
        # Calls whose one call by the original, seen before, already rules out the rounds in this
        # time: not warmed up again (seconds each). Only the original's time decides: a call left
        # out for one candidate (slow on it, or the budget spent) is tried again with the next.
        skip = {index for index, took in self._slow_seconds.items() if speedup.MIN_ROUNDS * took > seconds}
        if len(skip) == len(oracle.blobs):
            return PerCallBenchmark(note=f"no per-call figure: each captured call takes too long to time in {seconds:g} s")
        self.cancel.raise_if_cancelled()
        bench = per_call.measure(self._launch_with_plan, oracle, self._original_source, module_source, seconds, scaling, skip)
        self._slow_seconds.update(zip(bench.slow, bench.slow_seconds))
        bench.slow = sorted(set(bench.slow) | skip)  # left out here too, whichever benchmark found them slow
        bench.slow_seconds = [self._slow_seconds.get(index, 0.0) for index in bench.slow]
        return bench

    def time_heavy_calls(self, module_source: str, bench: PerCallBenchmark) -> None:
        """Both versions on the captured calls too slow to time per call (per_call.time_heavy)."""
        if self._oracle is not None and bench.untimed():
            per_call.time_heavy(self._launch_with_plan, self._oracle, self._original_source, module_source, bench)

    def confirm_benchmark(self, module_source: str, bench: PerCallBenchmark, *, heavy_only: bool = False) -> None:
        """The kernel's figures of each version run alone on the calls, into `bench`."""
        if self._oracle is not None and bench.speedup:
            per_call.confirm(
                self._launch_with_plan, self._oracle, self._original_source, module_source, bench, heavy_only=heavy_only
            )

    def count_instructions_per_call(self, module_source: str, bench: PerCallBenchmark) -> None:
        """Instructions of each version's function alone on the timed calls (valgrind or perf
        around runs of the benchmark's harness, its own count subtracted), into `bench`."""
        counter = instructions.available_counter()
        if counter == "none":
            bench.instruction_note = "no instruction counter (perf or valgrind) on this machine"
            return
        if self._oracle is None:
            return

        def launch(source: str, plan: dict[str, Any], extra_seconds: float) -> Run:
            self.cancel.raise_if_cancelled()
            return self._runner.launch(source, Mode.COUNT, replay=plan, extra_seconds=extra_seconds)

        per_call.count(launch, self._oracle, self._original_source, module_source, bench, counter, self._per_call_counts)

    def line_profile(self, *, seconds: float) -> LineProfile | None:
        """Where the original's time goes on the captured calls, line by line (line_profile.py)."""
        oracle = self._oracle
        if oracle is None or not oracle.blobs or not self.target.original_is_oracle:
            return None
        function = find_function(self._original_source, self.target.function)
        return per_call.line_profile(
            self._launch_with_plan, oracle, self._original_source, function.start_line, function.end_line, seconds
        )

    def _launch_with_plan(self, source: str, plan: dict[str, Any], extra_seconds: float) -> Run:
        self.cancel.raise_if_cancelled()
        return self._runner.launch(source, Mode.PLAIN, replay=plan, extra_seconds=extra_seconds)

    def close(self) -> None:
        self._closed = True
        self._runner.close()
        self._cleanup()

    def warm_worker_pids(self) -> set[int]:
        """The processes of the warm worker, which live as long as the executor (none when runs start cold)."""
        return self._runner.warm_pids()

    def describe_isolation(self) -> str:
        """The isolation every run of this executor has, in one line (for debug info)."""
        return self.isolation.describe() + warm.describe_runs(self._runner.warm_wanted)

    def __enter__(self) -> PytestExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _python_path(self, project: Path) -> list[str]:
        """The import path of a run whose copy of the project is `project` (launch.python_path)."""
        return python_path(self._import_roots, project)

    # -- reports --------------------------------------------------------------

    def _report(self, run: Run) -> ExecutionReport:
        return build_report(run, self._reference_ids, self._secrets, self.target.limits)

    def _import_time_refusal(self, source: str) -> str:
        return import_time_refusal(self._original_source, source, self.target.function)

    def _adapt_time_limits(self, original: ExecutionReport) -> None:
        """Scale the timeouts of the runs to come to the original's own test times (measuring.py)."""
        adapted = adapted_time_limits(original, self.target.limits)
        if adapted is not None:
            self._runner.per_test_timeout, self._runner.total_timeout = adapted

    # -- the oracle -----------------------------------------------------------

    def _capture(self, source: str) -> Oracle:
        """The original is the oracle: one more run of it records each call its tests make,
        then replays them (capture.py); the calls it replays alike are what candidates meet.
        A stub (solve) is no oracle: its calls only shape the inputs an answer is probed with."""
        run = self._runner.launch(source + capture.EPILOGUE.format(function=self.target.function), Mode.PLAIN, capture=True)
        if not (run.completed and run.trusted):
            return Oracle(summary=CaptureSummary(note="the capture run did not complete"))
        options = self.target.oracle
        oracle = build_oracle(run.records, compare_messages=options.compare_exception_messages)
        if oracle.blobs and not self.target.original_is_oracle:
            # Solve: the stub's calls give the arguments' shapes; nothing it does is an expectation.
            oracle.generated = draw_inputs(oracle.shapes, options.generated_inputs, options.seed).inputs
        elif oracle.blobs:
            self._generate(source, oracle)
        log.info("captured %s", oracle.summary.describe())
        return oracle

    def _generate(self, source: str, oracle: Oracle) -> None:
        """Inputs the tests do not hold (generate.py): drawn from the captured calls, run on
        the original twice; those it answers alike join the oracle."""
        options = self.target.oracle
        drawn = draw_inputs(oracle.shapes, options.generated_inputs, options.seed)
        oracle.summary.generated_note = drawn.note
        if not drawn.inputs:
            return
        run = self._runner.launch(source, Mode.PLAIN, replay=replay_plan(oracle.blobs, drawn.inputs, rounds=2, bases_only=True))
        if run.completed and run.trusted:
            add_generated(oracle, drawn.inputs, run.records)
        else:
            oracle.summary.generated_note = "no generated inputs: the original's run on them did not complete"

    # -- reference test ids ------------------------------------------------------

    def _remember_reference_ids(self, run: Run) -> None:
        with self._lock:
            if not self._reference_known:
                self._reference_known = True
                if run.records.collected is not None and not run.records.collect_errors:
                    self._reference_ids = list(run.records.collected)

    def _ensure_reference_ids(self) -> None:
        """The tests the original code collects: every candidate answers for all of them."""
        with self._lock:
            if self._reference_known:
                return
        if syntax_error(self._original_source):
            run = None
        else:
            run = self._runner.launch(self._original_source, Mode.PLAIN, collect_only=True)
        with self._lock:
            if not self._reference_known:
                self._reference_known = True
                if run is not None and run.completed and not run.records.collect_errors:
                    self._reference_ids = list(run.records.collected or [])


def _python_path_of(executor: PytestExecutor) -> Callable[[Path], list[str]]:
    """`executor._python_path`, looked up at each run (a test puts another import path in its
    place), through a weak reference: the executor's own runs must not keep it alive, since
    its finalizer is what removes its private directory."""
    owner = weakref.ref(executor)

    def run_python_path(project: Path) -> list[str]:
        found = owner()
        assert found is not None  # runs are only made by an executor that is alive
        return found._python_path(project)

    return run_python_path


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""
