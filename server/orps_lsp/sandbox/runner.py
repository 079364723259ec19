"""One run, from a candidate's source to its Run: where it runs (the warm worker's slot, or a
fresh copy of the snapshot when runs start cold), its limits stretched for what it measures,
the start (launch.py), the wait (waiting.py), the final sweep of its processes, and the
measurement it was made for.

The Runner owns what changes from run to run: the warm worker, the run numbers and the time
limits (tightened once the original has run). Afterwards no process of the run is left, and
only the run's own directory (or the worker's slot, reset) has changed.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import secrets
from pathlib import Path
from typing import Any

from ..cancel import CancelToken
from ..executor import ExecutionTarget
from . import instructions, seccomp, warm
from .isolation import Isolation
from .judge import JudgeFiles, Stamps
from .launch import Launcher, Mode, send_key, start_cold
from .limits import ProcessTree, limits_preexec
from .measuring import function_coverage
from .pids import PidsCgroup
from .protocol import KEY_CHARS
from .redact import redact
from .results import RecordReader
from .untrusted import Untrusted
from .verdict import STOP_TEST_TIMEOUT, Run
from .waiting import EXIT_GRACE, ColdChild, RunningChild, own_peak, tail, wait
from .workspace import copy_project, copy_snapshot, remove_tree

_MAX_SLOW_TOTAL = 600.0  # seconds: cap on the stretched timeout of a valgrind run
_PROCESS_OVERHEAD = 8  # the wrappers, pytest itself and its watchdog thread, besides what tests start
MB = 1024 * 1024  # the limits are set in MiB

log = logging.getLogger(__name__)


class Runner:
    """Makes the runs of one executor, each in its own place and process tree."""

    def __init__(
        self,
        target: ExecutionTarget,
        cancel: CancelToken,
        isolation: Isolation,
        launcher: Launcher,
        *,
        private: Path,
        snapshot: Path,
        project_root: Path,
        relative_file: Path,
        judge: JudgeFiles,
        disk_budget: int,
        secret_texts: list[str],
    ) -> None:
        self.target = target
        self.cancel = cancel
        self.isolation = isolation
        self.launcher = launcher
        self._private = private
        self._snapshot = snapshot
        self._project_root = project_root
        self._relative_file = relative_file
        self._judge = judge
        self.disk_budget = disk_budget
        self._secrets = secret_texts  # redacted from the output's tail
        self._run_numbers = itertools.count()
        # Tightened once the original has run (measuring.adapted_time_limits).
        self.per_test_timeout = target.limits.per_test_timeout
        self.total_timeout = target.limits.total_timeout
        self._warm: warm.WarmWorker | None = None
        self.warm_wanted = warm.enabled(isolation, target.limits.warm_worker)
        self._warm_failures = 0  # in a row; at two, runs start cold for good

    def launch(
        self,
        source: str,
        mode: Mode,
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
            worker = self._warm_worker() if mode is not Mode.COUNT else None
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

    # -- the warm worker ----------------------------------------------------------

    def close(self) -> None:
        if self._warm is not None:
            self._warm.stop()

    def warm_pids(self) -> set[int]:
        """The processes of the warm worker, which live as long as the executor (none when runs start cold)."""
        return self._warm.pids() if self._warm is not None else set()

    def _warm_worker(self) -> warm.WarmWorker | None:
        """The running warm worker with a fresh slot, or None (runs start cold)."""
        if not self.warm_wanted:
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
                    read_only=[self.launcher.coverage_rc, self._project_root],
                    python_path=self.launcher.python_path(self._private / "slot" / "project"),
                    scratch_bytes=2 * self.target.limits.file_size_mb * MB,
                )
            if not (self._warm.running and self._warm.refresh() and not self._judge_changes(self._warm.slot.project, None)):
                self._warm.start()  # also after a run changed what the sandbox protects
            return self._warm
        except (warm.WarmUnavailable, OSError) as error:
            self._give_up_warm(error)
            return None

    def _give_up_warm(self, error: Exception) -> None:
        log.warning("runs start cold from now on: %s", error)
        self.warm_wanted = False
        if self._warm is not None:
            self._warm.stop()

    # -- one run --------------------------------------------------------------------

    def _run_in(
        self,
        run_dir: Path,
        results_path: Path,
        output_path: Path,
        source: str,
        mode: Mode,
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

        counter = instructions.available_counter() if mode is Mode.COUNT else "none"
        slowdown = {Mode.PLAIN: 1.0, Mode.COVERAGE: 3.0, Mode.COUNT: 40.0 if counter == "valgrind" else 1.5}[mode]
        # The CPU-time rlimit stretches with the run's slowdown, as its timeouts do: under
        # valgrind, pytest's start-up alone can take longer than the configured CPU seconds.
        limits = dataclasses.replace(self.target.limits, cpu_seconds=max(1, round(self.target.limits.cpu_seconds * slowdown)))
        per_test = self.per_test_timeout * slowdown
        total = self.total_timeout if slowdown == 1.0 else min(self.total_timeout * slowdown, _MAX_SLOW_TOTAL)
        total += extra_seconds

        measure_path = run_dir / ("coverage.data" if mode is Mode.COVERAGE else "count.out")
        key = secrets.token_hex(KEY_CHARS // 2)
        marker = secrets.token_hex(8)
        env, judged = self.launcher.environment(
            source,
            project,
            home,
            tmp,
            marker,
            measure_path,
            per_test,
            collect_only=collect_only,
            capture=capture,
            replay=replay,
        )
        # The capture run runs the workload too (its calls are the benchmark's inputs; its outcomes judge nothing).
        pytest_args = self.launcher.pytest_args(project, collect_only, workload=capture and judged)
        cgroup = PidsCgroup.create(limits.max_processes + _PROCESS_OVERHEAD)
        try:
            child: RunningChild
            if worker is None:
                scratch_bytes = 2 * limits.file_size_mb * MB  # private tmpfs under bubblewrap: bounded
                with seccomp.descriptor() as seccomp_fd:
                    command = self.isolation.wrap(
                        self.launcher.command(mode, counter, project, measure_path, pytest_args),
                        run_dir=run_dir,
                        cwd=project,
                        read_only=[self.launcher.coverage_rc, self._project_root],
                        protected=[project / path for path in self._judge.paths if not (project / path).is_symlink()],
                        scratch={home: scratch_bytes, tmp: scratch_bytes},
                        seccomp_fd=seccomp_fd,
                    )
                    popen = start_cold(
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
                child = ColdChild(popen)
                tree = ProcessTree(popen.pid, marker, run_dir, cgroup)
                send_key(popen, key)
            else:
                warm_child = self.launcher.start_warm(
                    worker, mode, project, measure_path, pytest_args, env, key, results_path, output_path, cgroup
                )
                child = warm_child
                tree = ProcessTree(warm_child.pid, marker, run_dir, cgroup, spare=worker.pids())
            reader = RecordReader(results_path, key)
            try:
                stopped, interrupted = wait(
                    child,
                    tree,
                    reader,
                    self.cancel,
                    total=total,
                    per_test=per_test,
                    exit_grace=EXIT_GRACE * slowdown,
                    max_processes=self.target.limits.max_processes + _PROCESS_OVERHEAD,
                    disk_budget=self.disk_budget,
                    run_dir=run_dir,
                    output_path=output_path,
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
            peak_rss_kb=records.peak_rss_kb or own_peak(child.peak_rss_kb),
            stopped=stopped,
            interrupted_test=interrupted,
            per_test_timeout=per_test,
            total_timeout=total,
            exit_grace=EXIT_GRACE * slowdown,
            disk_budget_mb=self.disk_budget // MB,
            output_tail=redact(tail(output_path, limits.output_limit_kb, records.watchdog_text), self._secrets),
            judge_changes=self._judge_changes(project, judge_stamps),
            pids_limit_hit=pids_limit_hit,
            outside_cpu=cgroup_cpu if cgroup_cpu is not None else child.cpu_seconds,
            outside_wall=child.wall_seconds,
        )
        if run.completed and run.trusted and mode is Mode.COVERAGE:
            run.measurement = function_coverage(measure_path, project / self._relative_file, source, self.target.function)
        elif run.completed and run.trusted and mode is Mode.COUNT:
            run.measurement = instructions.read_count(counter, measure_path)
        return run

    def _judge_changes(self, project: Path, before: Stamps | None) -> list[str]:
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
