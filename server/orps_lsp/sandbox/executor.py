"""PytestExecutor: runs a candidate module against the user's own tests, contained.

Each run copies a snapshot of the project into a fresh private directory,
writes the candidate in place of the target module, and runs pytest there in
its own session with resource limits, a scrubbed environment, the strongest
isolation layer the machine offers (isolation.py) and a results channel the
candidate cannot forge from outside the process (plugin.py). Whatever the
candidate does, `run` returns a report; afterwards no process of the run is
left and only the private directory has changed.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import itertools
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import weakref
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import psutil

from ..cancel import Cancelled, CancelToken
from ..discovery import import_roots, module_names
from ..executor import ExecutionTarget
from ..import_time import added_import_time_code
from ..report import BehaviourCheck, CaptureSummary, CrossCheck, ExecutionReport, LineProfile, PerCallBenchmark, TestOutcome
from ..source import SourceError, find_function
from . import capture, instructions, isolation, per_call, seccomp, speedup, warm
from .generate import draw_inputs, proposed_inputs, symbolic_layout
from .oracle import Oracle, add_generated, build_oracle, compare, raised_on
from .judge import JudgeFiles
from .limits import ProcessTree, disk_bytes, limits_preexec, rlimit_settings, sandbox_environment
from .metrics import function_line_range, static_metrics
from .pids import PidsCgroup
from .protocol import (
    CANDIDATE_FILE_VAR,
    CANDIDATE_NAMES_VAR,
    CAPTURE_VAR,
    HARD_TIMEOUT_GRACE,
    KEY_CHARS,
    OWN_NAMESPACE_VAR,
    PLUGIN_MODULE,
    REPLAY_FILE_VAR,
    RESULTS_FD_VAR,
    TIMEOUT_VAR,
    crosshair_cap,
    replay_plan,
)
from .redact import redact, secret_values
from .results import RecordReader, build_outcomes, call_times, excused_skips
from .verdict import (
    STOP_DISK,
    STOP_EXIT_HANG,
    STOP_PROCESSES,
    STOP_TEST_TIMEOUT,
    STOP_TIMEOUT,
    Run,
    explain,
    interrupted_message,
    not_run_message,
    start_problem,
)
from .untrusted import Untrusted, is_regular
from .workspace import copy_project, copy_snapshot, private_directory, remove_tree

_POLL_SECONDS = 0.05
_REFRESH_SECONDS = 0.2  # how often the process tree is re-read while a run goes on
_DISK_SECONDS = 0.25  # how often the run's disk use is measured
_HANG_SLACK = 2.0  # the executor's own per-test backstop comes after the plugin's two stages
_EXIT_GRACE = 2.0  # seconds from the session's end to the process's exit, before it counts as a hang
_TAIL_LINES = 40
_DUMP_LINES = 16
_MAX_SLOW_TOTAL = 600.0  # seconds: cap on the stretched timeout of a valgrind run
_PROCESS_OVERHEAD = 8  # the wrappers, pytest itself and its watchdog thread, besides what tests start
_DISK_FILES = 4  # a run may write this many maximum-size files' worth beyond its copy
_MB = 1024 * 1024

log = logging.getLogger(__name__)


class _Mode(enum.Enum):
    PLAIN = "plain"
    COVERAGE = "coverage"
    COUNT = "count"  # under perf or valgrind


def _own_peak(ru_maxrss_kb: int | None) -> int | None:
    """ru_maxrss of a child that died before the plugin reported its own peak.

    After fork+exec Linux keeps the parent's high-water mark in ru_maxrss, so
    the figure says something about the child only when it is well above what
    this (parent) process holds; otherwise it is unknown.
    """
    if ru_maxrss_kb is None:
        return None
    parent_kb = psutil.Process().memory_info().rss // 1024
    return ru_maxrss_kb if ru_maxrss_kb > 1.1 * parent_kb else None


class _Child:
    """The pytest process, reaped with wait4 to read its peak RSS and CPU time."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.exit_code: int | None = None
        self.peak_rss_kb: int | None = None
        self.cpu_seconds: float | None = None
        self.wall_seconds: float | None = None  # from the start to the reaping (to the wait loop's poll)
        self._started = time.monotonic()

    def poll(self) -> bool:
        if self.exit_code is None:
            self._wait(os.WNOHANG)
        return self.exit_code is not None

    def reap(self) -> None:
        if self.exit_code is None:
            self._wait(0)

    def _wait(self, options: int) -> None:
        try:
            pid, status, usage = os.wait4(self.popen.pid, options)
        except ChildProcessError:  # reaped elsewhere: the status is lost
            self.exit_code = self.popen.returncode = -signal.SIGKILL
            return
        if pid:
            self.exit_code = self.popen.returncode = os.waitstatus_to_exitcode(status)
            self.peak_rss_kb = usage.ru_maxrss  # kilobytes on Linux
            self.cpu_seconds = usage.ru_utime + usage.ru_stime
            self.wall_seconds = time.monotonic() - self._started


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
        self._module_names = module_names(self._project_root, target.file)
        self._private = private_directory()
        self._cleanup = weakref.finalize(self, remove_tree, self._private)
        self._snapshot = self._private / "snapshot"
        copy_project(self._project_root, self._snapshot)
        self._import_roots = import_roots(self._snapshot, self._relative_file)
        self._hypothesis_unused = find_spec("_hypothesis_pytestplugin") is not None and not mentions_hypothesis(
            self._snapshot, [self._snapshot / p for p in target.tests.test_files], self._snapshot / self._relative_file
        )
        self._judge = JudgeFiles(self._snapshot, [Path(self._in_copy(p)) for p in target.tests.test_files], self._relative_file)
        self._disk_budget = disk_bytes(self._snapshot, ()) + _DISK_FILES * target.limits.file_size_mb * _MB
        self._secrets = secret_values(os.environ)
        self._original_source = _read_text(self._snapshot / self._relative_file)
        self._per_call_counts: dict[per_call.CountKey, float] = {}  # the original's (per_call.count)
        self._slow_seconds: dict[int, float] = {}  # call left out of a benchmark -> the original's time on it, one call
        self._coverage_rc = self._private / "coveragerc"
        self._coverage_rc.write_text("[run]\n")  # the user's coverage settings must not apply
        self._run_numbers = itertools.count()
        self._lock = threading.Lock()
        self._reference_ids: list[str] | None = None
        self._reference_known = False
        self._instruction_baselines: dict[str, int | None] = {}
        self._closed = False
        # Tightened once the original has run (see _adapt_time_limits).
        self._per_test_timeout = target.limits.per_test_timeout
        self._total_timeout = target.limits.total_timeout
        self._warm: warm.WarmWorker | None = None
        self._warm_wanted = warm.enabled(self.isolation, target.limits.warm_worker)
        self._warm_failures = 0  # in a row; at two, runs start cold for good
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
        refusal = _syntax_error(module_source) or ("" if is_original else self._import_time_refusal(module_source))
        if refusal or not is_original:
            self._ensure_reference_ids()

        if refusal:
            report = self._refusal_report(refusal)
        else:
            known = self._behaviour.get(module_source)
            replay = (
                self._oracle.plan(solve=not self.target.original_is_oracle)
                if self._oracle is not None and not is_original and known is None
                else None
            )
            first = self._launch(module_source, _Mode.PLAIN, replay=replay)
            if is_original:
                self._remember_reference_ids(first)
            report = self._report(first)
            if is_original:
                self._adapt_time_limits(report)
                if self._oracle is None and not report.start_error and (report.passed or not self.target.original_is_oracle):
                    self._oracle = self._capture(module_source)
                    report.capture = self._oracle.summary if self.target.original_is_oracle else None
            elif replay and first.completed and first.trusted and not self.target.original_is_oracle:
                report.generated_raises = raised_on(self._oracle, first.records)
            elif replay and first.completed and first.trusted:
                report.behaviour = self._behaviour[module_source] = compare(self._oracle, first.records)
            elif known is not None:
                report.behaviour = known
            if first.completed and first.trusted and not report.timed_out:  # a hang would only hang again
                report = self._repeat(module_source, report, first, repeats)
                if measure_coverage:
                    report.coverage = self._launch(module_source, _Mode.COVERAGE).measurement
                if count_instructions:
                    report.instructions, report.instruction_counter = self._count_instructions(module_source)
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
        run = self._launch(
            module_source,
            _Mode.PLAIN,
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
        original = self._launch(
            self._original_source, _Mode.PLAIN, replay=replay_plan(oracle.blobs, inputs, rounds=2, bases_only=True)
        )
        if original.completed and original.trusted:
            add_generated(proposed, inputs, original.records)
        if not proposed.generated:
            check.note = "CrossHair's inputs say nothing: the original did not answer them alike twice, in time"
            return check
        again = self._launch(module_source, _Mode.PLAIN, replay=replay_plan(oracle.blobs, proposed.generated, bases_only=True))
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
        refusal = _syntax_error(module_source) or self._import_time_refusal(module_source)
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
            return self._launch(source, _Mode.COUNT, replay=plan, extra_seconds=extra_seconds)

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
        return self._launch(source, _Mode.PLAIN, replay=plan, extra_seconds=extra_seconds)

    def close(self) -> None:
        self._closed = True
        if self._warm is not None:
            self._warm.stop()
        self._cleanup()

    def warm_worker_pids(self) -> set[int]:
        """The processes of the warm worker, which live as long as the executor (none when runs start cold)."""
        return self._warm.pids() if self._warm is not None else set()

    def describe_isolation(self) -> str:
        """The isolation every run of this executor has, in one line (for debug info)."""
        return self.isolation.describe() + warm.describe_runs(self._warm_wanted)

    def __enter__(self) -> PytestExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------

    def _launch(
        self,
        source: str,
        mode: _Mode,
        *,
        collect_only: bool = False,
        capture: bool = False,
        replay: dict[str, Any] | None = None,
        extra_seconds: float = 0.0,
    ) -> Run:
        number = next(self._run_numbers)
        # The channel and the output log live beside the run's directory, not in
        # it: under bubblewrap the candidate cannot even see them.
        results_path, output_path = (self._private / f"run-{number}.results", self._private / f"run-{number}.log")
        # Counting instructions needs perf or valgrind around a fresh process: those runs start cold.
        for _ in range(2):  # a worker that died since the last run is replaced once
            worker = self._warm_worker() if mode is not _Mode.COUNT else None
            if worker is None:
                break
            try:
                run = self._run_in(
                    worker.slot.root,
                    results_path,
                    output_path,
                    source,
                    mode,
                    collect_only,
                    worker,
                    capture=capture,
                    replay=replay,
                    extra_seconds=extra_seconds,
                )
            except warm.WarmUnavailable as error:  # before the run started
                worker.stop()
                self._warm_failures += 1
                if self._warm_failures >= 2:
                    self._give_up_warm(error)
            else:
                self._warm_failures = 0
                return run
            finally:  # coverage.data is in the slot the candidate wrote in: a directory there, say
                for path in (results_path, output_path, worker.slot.root / "coverage.data"):
                    remove_tree(path)
        run_dir = self._private / f"run-{number}"
        try:
            return self._run_in(
                run_dir,
                results_path,
                output_path,
                source,
                mode,
                collect_only,
                capture=capture,
                replay=replay,
                extra_seconds=extra_seconds,
            )
        finally:
            remove_tree(run_dir)
            for path in (results_path, output_path):
                path.unlink(missing_ok=True)

    def _capture(self, source: str) -> Oracle:
        """The original is the oracle: one more run of it records each call its tests make,
        then replays them (capture.py); the calls it replays alike are what candidates meet.
        A stub (solve) is no oracle: its calls only shape the inputs an answer is probed with."""
        run = self._launch(source + capture.EPILOGUE.format(function=self.target.function), _Mode.PLAIN, capture=True)
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
        run = self._launch(source, _Mode.PLAIN, replay=replay_plan(oracle.blobs, drawn.inputs, rounds=2, bases_only=True))
        if run.completed and run.trusted:
            add_generated(oracle, drawn.inputs, run.records)
        else:
            oracle.summary.generated_note = "no generated inputs: the original's run on them did not complete"

    def _warm_worker(self) -> warm.WarmWorker | None:
        """The running warm worker with a fresh slot, or None (runs start cold)."""
        if not self._warm_wanted:
            return None
        try:
            if self._warm is None:
                protected = [Path(path) for path in self._judge.paths if not (self._snapshot / path).is_symlink()]
                self._warm = warm.WarmWorker(
                    self.isolation,
                    self._private,
                    self._snapshot,
                    protected,
                    self._relative_file,
                    read_only=[self._coverage_rc, self._project_root],
                    python_path=self._python_path(self._private / "slot" / "project"),
                    scratch_bytes=2 * self.target.limits.file_size_mb * _MB,
                )
            if not (self._warm.running and self._warm.refresh() and not self._judge_changes(self._warm.slot.project, None)):
                self._warm.start()  # also after a run changed what the sandbox protects
            return self._warm
        except (warm.WarmUnavailable, OSError) as error:
            self._give_up_warm(error)
            return None

    def _give_up_warm(self, error: Exception) -> None:
        log.warning("runs start cold from now on: %s", error)
        self._warm_wanted = False
        if self._warm is not None:
            self._warm.stop()

    def _run_in(
        self,
        run_dir: Path,
        results_path: Path,
        output_path: Path,
        source: str,
        mode: _Mode,
        collect_only: bool,
        worker: warm.WarmWorker | None = None,
        *,
        capture: bool = False,
        replay: dict[str, Any] | None = None,
        extra_seconds: float = 0.0,
    ) -> Run:
        project, home, tmp = run_dir / "project", run_dir / "home", run_dir / "tmp"
        if worker is None:
            self._copy_for_run(project)
            home.mkdir()
            tmp.mkdir()
        (project / self._relative_file).write_bytes(source.encode("utf-8"))
        judge_stamps = self._judge.stamps(project)
        self.cancel.raise_if_cancelled()

        counter = instructions.available_counter() if mode is _Mode.COUNT else "none"
        slowdown = {_Mode.PLAIN: 1.0, _Mode.COVERAGE: 3.0, _Mode.COUNT: 40.0 if counter == "valgrind" else 1.5}[mode]
        # The CPU-time rlimit stretches with the run's slowdown, as its timeouts do: under
        # valgrind, pytest's start-up alone can take longer than the configured CPU seconds.
        limits = dataclasses.replace(self.target.limits, cpu_seconds=max(1, round(self.target.limits.cpu_seconds * slowdown)))
        per_test = self._per_test_timeout * slowdown
        total = self._total_timeout if slowdown == 1.0 else min(self._total_timeout * slowdown, _MAX_SLOW_TOTAL)
        total += extra_seconds

        measure_path = run_dir / ("coverage.data" if mode is _Mode.COVERAGE else "count.out")
        key = secrets.token_hex(KEY_CHARS // 2)
        marker = secrets.token_hex(8)
        judged = (
            {}
            if collect_only
            else {
                CANDIDATE_FILE_VAR: str(project / self._relative_file),
                CANDIDATE_NAMES_VAR: json.dumps(
                    {
                        "modules": self._module_names,
                        "function": self.target.function,
                        "line": _definition_line(source, self.target.function),
                    }
                ),
            }
        )
        if capture and judged:
            judged[CAPTURE_VAR] = "1"
        if replay and judged:
            # In the copy (the run sees it; its tmp is a private tmpfs): the plugin reads and removes it first.
            replay_file = project / f".orps-replay-{secrets.token_hex(4)}.json"
            replay_file.write_text(json.dumps(replay), encoding="ascii")
            judged[REPLAY_FILE_VAR] = str(replay_file)
        env = sandbox_environment(
            home,
            tmp,
            marker,
            {
                TIMEOUT_VAR: f"{per_test:g}",
                "PYTHONPATH": os.pathsep.join(self._python_path(project)),
                "COVERAGE_FILE": str(measure_path),
                **judged,
            },
        )
        # The capture run runs the workload too (its calls are the benchmark's inputs; its outcomes judge nothing).
        pytest_args = self._pytest_args(project, collect_only, workload=capture and bool(judged))
        cgroup = PidsCgroup.create(limits.max_processes + _PROCESS_OVERHEAD)
        try:
            if worker is None:
                scratch_bytes = 2 * limits.file_size_mb * _MB  # private tmpfs under bubblewrap: bounded
                with seccomp.descriptor() as seccomp_fd:
                    command = self.isolation.wrap(
                        self._command(mode, counter, project, measure_path, pytest_args),
                        run_dir=run_dir,
                        cwd=project,
                        read_only=[self._coverage_rc, self._project_root],
                        protected=[project / path for path in self._judge.paths if not (project / path).is_symlink()],
                        scratch={home: scratch_bytes, tmp: scratch_bytes},
                        seccomp_fd=seccomp_fd,
                    )
                    popen = self._start(
                        command,
                        project,
                        env,
                        results_path,
                        output_path,
                        preexec=limits_preexec(
                            limits, limit_memory=counter != "valgrind", cgroup_procs=cgroup.procs_path if cgroup else None
                        ),
                        extra_fds=() if seccomp_fd is None else (seccomp_fd,),
                    )
                child: _Child | warm.WarmChild = _Child(popen)
                tree = ProcessTree(popen.pid, marker, run_dir, cgroup)
                _send_key(popen, key)
            else:
                child = self._start_warm(
                    worker, mode, project, measure_path, pytest_args, env, key, results_path, output_path, cgroup
                )
                tree = ProcessTree(child.pid, marker, run_dir, cgroup, spare=worker.pids())
            reader = RecordReader(results_path, key)
            try:
                stopped, interrupted = self._wait(
                    child, tree, reader, total, per_test, _EXIT_GRACE * slowdown, run_dir, output_path
                )
            finally:
                tree.kill_all()  # also the final sweep after a normal exit
                child.reap()
                if worker is not None:
                    worker.reset(worker.scratch_dirs())
            pids_limit_hit = cgroup.limit_hit() if cgroup else False
            cgroup_cpu = cgroup.cpu_seconds() if cgroup else None
        finally:
            if cgroup:
                cgroup.remove()
        records = reader.finish()
        if not stopped and records.exitstatus is None and records.running_test:
            # The process died inside a test: faulthandler's watchdog, or a crash.
            interrupted = records.running_test[0]
            stopped = STOP_TEST_TIMEOUT if records.watchdog_fired else ""

        run = Run(
            records=records,
            exit_code=self.isolation.exit_status(child.exit_code) if worker is None else child.exit_code,
            peak_rss_kb=records.peak_rss_kb or _own_peak(child.peak_rss_kb),
            stopped=stopped,
            interrupted_test=interrupted,
            per_test_timeout=per_test,
            total_timeout=total,
            exit_grace=_EXIT_GRACE * slowdown,
            disk_budget_mb=self._disk_budget // _MB,
            output_tail=redact(_tail(output_path, limits.output_limit_kb, records.watchdog_text), self._secrets),
            judge_changes=self._judge_changes(project, judge_stamps),
            pids_limit_hit=pids_limit_hit,
            outside_cpu=cgroup_cpu if cgroup_cpu is not None else child.cpu_seconds,
            outside_wall=child.wall_seconds,
        )
        if run.completed and run.trusted and mode is _Mode.COVERAGE:
            run.measurement = self._function_coverage(measure_path, project, source)
        elif run.completed and run.trusted and mode is _Mode.COUNT:
            run.measurement = instructions.read_count(counter, measure_path)
        return run

    def _judge_changes(self, project: Path, before: dict | None) -> list[str]:
        """The judge files the run changed; a copy that cannot be inspected (a tree too deep
        or too large to walk) is a change: the candidate fails, the search goes on."""
        try:
            return self._judge.changes(project, before)
        except Untrusted as why:
            return [f"the run's copy cannot be inspected: {why}"]

    def _copy_for_run(self, project: Path) -> None:
        """A fresh copy of the snapshot, whose tests must be those of the user's tree.

        Without bubblewrap a candidate can reach the snapshot (it sits beside
        the run's directory); if it changed the tests there, it is made again
        from the user's project before anything else runs on it.
        """
        copy_snapshot(self._snapshot, project)
        if self._judge.changes(project):
            remove_tree(self._snapshot)
            copy_project(self._project_root, self._snapshot)
            remove_tree(project)
            copy_snapshot(self._snapshot, project)

    def _start(
        self,
        command: list[str],
        project: Path,
        env: dict[str, str],
        results_path: Path,
        output_path: Path,
        *,
        preexec,
        extra_fds: tuple[int, ...] = (),
    ) -> subprocess.Popen:
        results_fd = os.open(results_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            with open(output_path, "wb") as output:
                return subprocess.Popen(
                    command,
                    cwd=project,
                    env={**env, RESULTS_FD_VAR: str(results_fd)},
                    stdin=subprocess.PIPE,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    pass_fds=(results_fd, *extra_fds),
                    # Rlimits have no other hook in Popen; the function only makes
                    # setsid/setrlimit calls and one write, prepared before the fork.
                    preexec_fn=preexec,  # noqa: PLW1509
                )
        finally:
            os.close(results_fd)

    def _start_warm(
        self,
        worker: warm.WarmWorker,
        mode: _Mode,
        project: Path,
        measure_path: Path,
        pytest_args: list[str],
        env: dict[str, str],
        key: str,
        results_path: Path,
        output_path: Path,
        cgroup: PidsCgroup | None,
    ) -> warm.WarmChild:
        """The run forked from the warm worker: the same arguments, limits and environment as a cold one."""
        request = {
            "args": pytest_args,
            "cwd": str(project),
            "key": key,
            "env": {**env, OWN_NAMESPACE_VAR: "1"},
            "rlimits": rlimit_settings(self.target.limits),
            "coverage": {
                "data_file": str(measure_path),
                "rcfile": str(self._coverage_rc),
                "include": str(project / self._relative_file),
            }
            if mode is _Mode.COVERAGE
            else None,
        }
        results_fd = os.open(results_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        output_fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            return worker.launch(request, (results_fd, output_fd), cgroup.procs_path if cgroup else None)
        finally:
            os.close(results_fd)
            os.close(output_fd)

    def _command(self, mode: _Mode, counter: str, project: Path, measure_path: Path, arguments: list[str]) -> list[str]:
        """The command of a cold run."""
        pytest_args = ["-m", "pytest", *arguments]
        if mode is _Mode.COVERAGE:
            include = project / self._relative_file
            return [
                sys.executable,
                "-m",
                "coverage",
                "run",
                f"--rcfile={self._coverage_rc}",
                f"--include={include}",
                *pytest_args,
            ]
        if mode is _Mode.COUNT:
            # sys.executable, not its resolved target: a venv's python finds its
            # site-packages from the path it was started by.
            return [*instructions.command_prefix(counter, measure_path), sys.executable, *pytest_args]
        return [sys.executable, *pytest_args]

    def _pytest_args(self, project: Path, collect_only: bool, workload: bool = False) -> list[str]:
        # Every built-in plugin stays: a project whose options need one (--lf, --sw, faulthandler_timeout
        # under --strict-config) must still run. The cache lives in the run's copy and goes with it.
        pytest_args = [
            "-p",
            PLUGIN_MODULE,
            "-o",
            "faulthandler_timeout=0",  # its timer would replace the plugin's watchdog
            "-q",
            "--continue-on-collection-errors",
            "--rootdir",
            str(project),
            "--color=no",
        ]  # after the project's addopts, so it wins: no ANSI codes in the reports
        if find_spec("xdist") is not None:
            pytest_args.append("-n0")  # results come from this process, not from workers
        if find_spec("pytest_cov") is not None:
            pytest_args.append("--no-cov")  # a --cov in addopts would pause our own coverage (and fail-under voids passes)
        if self._hypothesis_unused:
            # Hypothesis's plugin imports all of Hypothesis at the end of every session (0.5 s, 20 s under
            # valgrind): in the runs of a project that does not use it, it does nothing else.
            pytest_args += ["-p", "no:hypothesispytest"]
        if collect_only:
            pytest_args.append("--collect-only")
        selection = self.target.tests
        if workload:  # first: its calls are recorded before the unit tests' fill the capture
            pytest_args += selection.workload
        pytest_args += [self._in_copy(path) for path in selection.test_files]
        if selection.keyword:
            pytest_args += ["-k", selection.keyword]
        pytest_args += selection.extra_args
        return pytest_args

    def _in_copy(self, test_file: Path) -> str:
        """A selected test path as pytest in the copy must see it (relative to the copy)."""
        path = Path(test_file)
        if path.is_absolute() and path.resolve().is_relative_to(self._project_root):
            path = path.resolve().relative_to(self._project_root)
        return str(path)

    def _python_path(self, project: Path) -> list[str]:
        """The copy first: the user's package must import from it, never from their tree
        or an installed copy. Decided on the snapshot: `project` may not exist yet
        (the warm worker's slot is made after its command line)."""
        return [str(project / root) if root != Path(".") else str(project) for root in self._import_roots] + [
            isolation.PLUGIN_ROOT
        ]

    def _wait(
        self,
        child: _Child,
        tree: ProcessTree,
        reader: RecordReader,
        total: float,
        per_test: float,
        exit_grace: float,
        run_dir: Path,
        output_path: Path,
    ) -> tuple[str, str | None]:
        """Poll until the child exits, the run or a test times out, the session
        ended but the process does not exit, the run exceeds its disk or process
        budget, or the user cancels."""
        deadline = time.monotonic() + total
        hang_limit = per_test + HARD_TIMEOUT_GRACE + _HANG_SLACK
        max_processes = self.target.limits.max_processes + _PROCESS_OVERHEAD
        next_refresh = next_disk = 0.0
        finished_at: float | None = None
        while not child.poll():
            if self.cancel.cancelled:
                raise Cancelled()
            now = time.monotonic()
            records = reader.poll()
            running = records.running_test
            current = running[0] if running else None
            if now >= deadline:
                return STOP_TIMEOUT, current
            if running and now - running[1] > hang_limit:
                return STOP_TEST_TIMEOUT, current
            if records.exitstatus is not None:
                finished_at = finished_at or now
                if now - finished_at > exit_grace:
                    return STOP_EXIT_HANG, None
            if now >= next_refresh:
                tree.refresh()
                # Backstop for root without a pids cgroup, where RLIMIT_NPROC does not hold.
                if len(tree.alive()) > max_processes:
                    return STOP_PROCESSES, current
                next_refresh = now + _REFRESH_SECONDS
            if now >= next_disk:
                if disk_bytes(run_dir, tree.alive()) + _size(output_path) > self._disk_budget:
                    return STOP_DISK, current
                next_disk = now + _DISK_SECONDS
            self.cancel.wait(_POLL_SECONDS)
        # Once more at the end: a run that filled its budget between two looks still exceeded it.
        if disk_bytes(run_dir, tree.alive()) + _size(output_path) > self._disk_budget:
            return STOP_DISK, None
        return "", None

    # -- reports --------------------------------------------------------------

    def _report(self, run: Run) -> ExecutionReport:
        report = ExecutionReport(
            tests=build_outcomes(
                run.records,
                self._reference_ids,
                interrupted_test=run.interrupted_test,
                interrupted_message=interrupted_message(run),
                timeout_message=f"timed out after {run.per_test_timeout:g} s (per-test limit)",
                not_run_message=not_run_message(run),
            ),
            peak_rss_kb=run.peak_rss_kb,
            output_tail=run.output_tail,
        )
        for outcome in report.tests:
            outcome.message = redact(outcome.message, self._secrets)
        report.error, report.timed_out = explain(run, report, self.target.limits)
        report.error = redact(report.error, self._secrets)
        report.start_error = redact(start_problem(run, report), self._secrets)
        _tally(report, excused_skips(run.records))
        if run.records.tests:
            report.wall_time, report.cpu_time = call_times(run.records)
            report.wall_times, report.cpu_times = [report.wall_time], [report.cpu_time]
            report.runs = 1
            if run.outside_cpu is not None and run.outside_wall is not None:
                report.outside_cpu_times, report.outside_wall_times = [run.outside_cpu], [run.outside_wall]
        return report

    def _import_time_refusal(self, source: str) -> str:
        """Why the candidate is not run at all: it adds module-level code that would run
        when the tests import it (import_time.py), before the judge could tell it from theirs."""
        found = added_import_time_code(self._original_source, source, self.target.function)
        if not found:
            return ""
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        return (
            f"refused before running: the candidate adds code that runs at import ({found[0]}{more});"
            " only imports, definitions and constants may be added at module level"
        )

    def _refusal_report(self, error: str) -> ExecutionReport:
        report = ExecutionReport(
            tests=[TestOutcome(nodeid, "error", error) for nodeid in self._reference_ids or []],
            error=error,
        )
        _tally(report, set())
        return report

    def _repeat(self, source: str, report: ExecutionReport, first: Run, repeats: int) -> ExecutionReport:
        """Re-run a fully passing candidate to keep its best time; a failing repeat wins."""
        if repeats <= 1 or report.error or report.passed == 0 or report.failed:
            return report
        for _ in range(repeats - 1):
            again = self._launch(source, _Mode.PLAIN)
            again_report = self._report(again)
            same_tests = {t.nodeid for t in again_report.tests} == {t.nodeid for t in report.tests}
            if again_report.error or again_report.failed or again_report.passed != report.passed or not same_tests:
                again_report.error = again_report.error or "flaky: passed once, then failed on a repeat"
                return again_report
            report.add_run(again_report)
        return report

    def _adapt_time_limits(self, original: ExecutionReport) -> None:
        """Scale the timeouts to the original's own test times.

        Small models often write endless loops; waiting the configured 10 s on
        each test of each such candidate would dominate the search. A candidate
        may still be 20x slower per test than the original (plus a second)
        before it is cut off. The configured limits stay the ceiling.
        """
        if original.error or not original.tests or original.passed == 0:
            return
        slowest = max(t.duration for t in original.tests)
        overall = sum(t.duration for t in original.tests)
        limits = self.target.limits
        self._per_test_timeout = min(limits.per_test_timeout, max(2.0, 20 * slowest + 1.0))
        self._total_timeout = min(limits.total_timeout, max(15.0, 5 * overall + 15.0))

    # -- reference test ids, coverage, instructions ------------------------------

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
        if _syntax_error(self._original_source):
            run = None
        else:
            run = self._launch(self._original_source, _Mode.PLAIN, collect_only=True)
        with self._lock:
            if not self._reference_known:
                self._reference_known = True
                if run is not None and run.completed and not run.records.collect_errors:
                    self._reference_ids = list(run.records.collected or [])

    def _function_coverage(self, data_path: Path, project: Path, source: str) -> float | None:
        import coverage  # only the coverage runs need it

        if not is_regular(data_path):  # a FIFO or a directory the candidate left: not measured
            return None
        try:
            first, last = function_line_range(source, self.target.function)
            measured = coverage.Coverage(data_file=str(data_path), config_file=False)
            measured.load()
            _, statements, _, missing, _ = measured.analysis2(str(project / self._relative_file))
        except (LookupError, SyntaxError, coverage.CoverageException, OSError):
            return None
        body = {line for line in statements if first <= line <= last}
        if not body:
            return None
        return 1.0 - len(body & set(missing)) / len(body)

    def _count_instructions(self, source: str) -> tuple[int | None, str]:
        counter = instructions.available_counter()
        if counter == "none":
            return None, "none"
        measured = self._launch(source, _Mode.COUNT).measurement
        if measured is None:
            return None, "none"
        baseline = self._instruction_baseline(counter)
        count = int(measured) - baseline if baseline is not None else int(measured)
        return max(count, 0), counter

    def _instruction_baseline(self, counter: str) -> int | None:
        if counter not in self._instruction_baselines:
            run = self._launch(self._original_source, _Mode.COUNT, collect_only=True)
            self._instruction_baselines[counter] = int(run.measurement) if run.measurement is not None else None
        return self._instruction_baselines[counter]


def mentions_hypothesis(root: Path, test_files: list[Path], module: Path) -> bool:
    """Whether the project's tests may use Hypothesis: the word in the judged test files, the
    conftest.py files above them, the module or the pytest configuration."""
    files = {module, *(root / name for name in ("pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini"))}
    for path in test_files:
        files.update(itertools.islice(path.rglob("*.py"), 500) if path.is_dir() else [path])
        for parent in path.parents:
            files.add(parent / "conftest.py")
            if parent == root or root not in parent.parents:
                break
    for path in files:
        try:
            if path.is_file() and "hypothesis" in path.read_text(encoding="utf-8", errors="replace").lower():
                return True
        except OSError:
            continue
    return False


def _tally(report: ExecutionReport, excused: set[str]) -> None:
    counted = [t for t in report.tests if not (t.outcome == "skipped" and t.nodeid in excused)]
    report.passed = sum(t.outcome == "passed" for t in counted)
    report.failed = sum(t.outcome in ("failed", "error") for t in counted)
    report.skipped = sum(t.outcome == "skipped" for t in counted)
    report.total = len(counted)


def _syntax_error(source: str) -> str:
    try:
        ast.parse(source)
    except SyntaxError as error:
        return f"SyntaxError in candidate: {error.msg} (line {error.lineno})"
    except ValueError as error:  # e.g. a null byte
        return f"SyntaxError in candidate: {error}"
    return ""


def _send_key(popen: subprocess.Popen, key: str) -> None:
    assert popen.stdin is not None
    try:
        popen.stdin.write(key.encode("ascii"))
        popen.stdin.close()
    except OSError:
        pass  # the child died before reading it; the wait reports why


def _size(path: Path) -> int:
    try:
        return path.stat().st_blocks * 512
    except OSError:
        return 0


def _tail(output_path: Path, limit_kb: int, extra_text: str) -> str:
    """The last lines of the child's output (read from at most `limit_kb` at its end)."""
    try:
        with open(output_path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            stream.seek(max(0, stream.tell() - limit_kb * 1024))
            text = stream.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    # A faulthandler dump lists the innermost frames first: those are worth keeping.
    dump = "\n".join(extra_text.splitlines()[:_DUMP_LINES])
    lines = (text.rstrip() + "\n" + dump).strip().splitlines()
    return "\n".join(lines[-_TAIL_LINES:])


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def _definition_line(source: str, function: str) -> int:
    """Where the candidate's definition starts (its first decorator): the import check
    tells it from another definition of the name in the same file. 0 when not found."""
    try:
        return find_function(source, function).start_line
    except SourceError:
        return 0
