"""PytestExecutor: runs a candidate module against the user's own tests, contained.

Each run copies a snapshot of the project into a fresh private directory,
writes the candidate in place of the target module, and runs pytest there in
its own session with resource limits, a scrubbed environment and a results
channel the candidate cannot easily forge (plugin.py). Whatever the candidate
does, `run` returns a report; afterwards no process of the run is left and
only the private directory has changed.
"""

from __future__ import annotations

import ast
import enum
import itertools
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import orps_lsp
import psutil

from ..cancel import Cancelled, CancelToken
from ..executor import ExecutionTarget
from ..report import ExecutionReport, TestOutcome
from . import instructions
from .limits import ProcessTree, limits_preexec, sandbox_environment
from .metrics import function_line_range, static_metrics
from .protocol import HARD_TIMEOUT_GRACE, NONCE_BYTES, PLUGIN_MODULE, RESULTS_FD_VAR, TIMEOUT_VAR
from .results import RecordReader, RunRecords, build_outcomes, call_times, excused_skips, timed_out_tests
from .workspace import copy_project, copy_snapshot, remove_tree

_POLL_SECONDS = 0.05
_REFRESH_SECONDS = 0.2  # how often the process tree is re-read while a run goes on
_HANG_SLACK = 2.0  # the executor's own per-test backstop comes after the plugin's two stages
_TAIL_LINES = 40
_DUMP_LINES = 16
_MAX_SLOW_TOTAL = 600.0  # seconds: cap on the stretched timeout of a valgrind run
_PLUGIN_ROOT = str(Path(orps_lsp.__file__).resolve().parent.parent)


class _Mode(enum.Enum):
    PLAIN = "plain"
    COVERAGE = "coverage"
    COUNT = "count"  # under perf or valgrind


@dataclass
class _Run:
    records: RunRecords
    exit_code: int | None  # negative: killed by that signal
    peak_rss_kb: int | None
    stopped: str  # "" | "timeout" (whole run) | "test-timeout" (one test hung)
    interrupted_test: str | None  # the test running when the process was stopped or died
    output_tail: str
    per_test_timeout: float
    total_timeout: float
    measurement: float | None = None  # coverage ratio or instruction count

    @property
    def completed(self) -> bool:
        """pytest got to the end of its session and the process exited by itself."""
        return self.records.exitstatus is not None and not self.stopped and (self.exit_code or 0) >= 0


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
    """The pytest process, reaped with wait4 to read its peak RSS."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.exit_code: int | None = None
        self.peak_rss_kb: int | None = None

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
        self._project_root = target.project_root.resolve()
        self._relative_file = target.file.resolve().relative_to(self._project_root)
        self._private = Path(tempfile.mkdtemp(prefix="orps-sandbox-")).resolve()
        self._cleanup = weakref.finalize(self, remove_tree, self._private)
        self._snapshot = self._private / "snapshot"
        copy_project(self._project_root, self._snapshot)
        self._original_source = _read_text(self._snapshot / self._relative_file)
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
        syntax_error = _syntax_error(module_source)
        if syntax_error or not is_original:
            self._ensure_reference_ids()

        if syntax_error:
            report = self._syntax_error_report(syntax_error)
        else:
            first = self._launch(module_source, _Mode.PLAIN)
            if is_original:
                self._remember_reference_ids(first)
            report = self._report(first)
            if is_original:
                self._adapt_time_limits(report)
            if first.completed and not report.timed_out:  # a hang would only hang again
                report = self._repeat(module_source, report, first, repeats)
                if measure_coverage:
                    report.coverage = self._launch(module_source, _Mode.COVERAGE).measurement
                if count_instructions:
                    report.instructions, report.instruction_counter = self._count_instructions(module_source)
        report.static = static_metrics(module_source, self.target.function)
        return report

    def close(self) -> None:
        self._closed = True
        self._cleanup()

    def __enter__(self) -> PytestExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------

    def _launch(self, source: str, mode: _Mode, *, collect_only: bool = False) -> _Run:
        run_dir = self._private / f"run-{next(self._run_numbers)}"
        try:
            return self._run_in(run_dir, source, mode, collect_only)
        finally:
            remove_tree(run_dir)

    def _run_in(self, run_dir: Path, source: str, mode: _Mode, collect_only: bool) -> _Run:
        project, home, tmp = run_dir / "project", run_dir / "home", run_dir / "tmp"
        copy_snapshot(self._snapshot, project)
        home.mkdir()
        tmp.mkdir()
        (project / self._relative_file).write_bytes(source.encode("utf-8"))
        self.cancel.raise_if_cancelled()

        counter = instructions.available_counter() if mode is _Mode.COUNT else "none"
        slowdown = {_Mode.PLAIN: 1.0, _Mode.COVERAGE: 3.0, _Mode.COUNT: 40.0 if counter == "valgrind" else 1.5}[mode]
        limits = self.target.limits
        per_test = self._per_test_timeout * slowdown
        total = self._total_timeout if slowdown == 1.0 else min(self._total_timeout * slowdown, _MAX_SLOW_TOTAL)

        results_path, output_path = run_dir / "results.jsonl", run_dir / "output.log"
        measure_path = run_dir / ("coverage.data" if mode is _Mode.COVERAGE else "count.out")
        command = self._command(mode, counter, project, measure_path, collect_only)
        nonce = secrets.token_hex(NONCE_BYTES // 2)
        marker = secrets.token_hex(8)
        results_fd = os.open(results_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        env = sandbox_environment(
            home, tmp, marker,
            {
                RESULTS_FD_VAR: str(results_fd),
                TIMEOUT_VAR: f"{per_test:g}",
                "PYTHONPATH": os.pathsep.join(self._python_path(project)),
                "COVERAGE_FILE": str(measure_path),
            },
        )
        try:
            with open(output_path, "wb") as output:
                popen = subprocess.Popen(
                    command, cwd=project, env=env, stdin=subprocess.PIPE, stdout=output,
                    stderr=subprocess.STDOUT, pass_fds=(results_fd,),
                    # Rlimits have no other hook in Popen; the function only makes
                    # setsid/setrlimit calls, prepared before the fork.
                    preexec_fn=limits_preexec(limits, limit_memory=counter != "valgrind"),  # noqa: PLW1509
                )
        finally:
            os.close(results_fd)

        child, tree = _Child(popen), ProcessTree(popen.pid, marker, run_dir)
        reader = RecordReader(results_path, nonce)
        try:
            _send_nonce(popen, nonce)
            stopped, interrupted = self._wait(child, tree, reader, total, per_test)
        finally:
            tree.kill_all()  # also the final sweep after a normal exit
            child.reap()
        records = reader.finish()
        if not stopped and records.exitstatus is None and records.running_test:
            # The process died inside a test: faulthandler's watchdog, or a crash.
            interrupted = records.running_test[0]
            stopped = "test-timeout" if records.watchdog_fired else ""

        run = _Run(
            records=records, exit_code=child.exit_code,
            peak_rss_kb=records.peak_rss_kb or _own_peak(child.peak_rss_kb),
            stopped=stopped, interrupted_test=interrupted, per_test_timeout=per_test, total_timeout=total,
            output_tail=_tail(output_path, limits.output_limit_kb, records.watchdog_text),
        )
        if run.completed and mode is _Mode.COVERAGE:
            run.measurement = self._function_coverage(measure_path, project, source)
        elif run.completed and mode is _Mode.COUNT:
            run.measurement = instructions.read_count(counter, measure_path)
        return run

    def _command(self, mode: _Mode, counter: str, project: Path, measure_path: Path, collect_only: bool) -> list[str]:
        pytest_args = ["-m", "pytest", "-p", PLUGIN_MODULE, "-p", "no:cacheprovider",
                       "-p", "no:faulthandler",  # its timer would replace the plugin's watchdog
                       "-q", "--continue-on-collection-errors", "--rootdir", str(project)]
        if find_spec("xdist") is not None:
            pytest_args.append("-n0")  # results come from this process, not from workers
        if collect_only:
            pytest_args.append("--collect-only")
        selection = self.target.tests
        pytest_args += [self._in_copy(path) for path in selection.test_files]
        if selection.keyword:
            pytest_args += ["-k", selection.keyword]
        pytest_args += selection.extra_args

        if mode is _Mode.COVERAGE:
            include = project / self._relative_file
            return [sys.executable, "-m", "coverage", "run", f"--rcfile={self._coverage_rc}",
                    f"--include={include}", *pytest_args]
        if mode is _Mode.COUNT:
            # sys.executable, not its resolved target: a venv's python finds its
            # site-packages from the path it was started by.
            return [*instructions.command_prefix(counter, measure_path), sys.executable, *pytest_args]
        return [sys.executable, *pytest_args]

    def _in_copy(self, test_file: Path) -> str:
        """A selected test path as pytest in the copy must see it (relative to the copy)."""
        path = Path(test_file)
        if path.is_absolute() and path.resolve().is_relative_to(self._project_root):
            path = path.resolve().relative_to(self._project_root)
        return str(path)

    def _python_path(self, project: Path) -> list[str]:
        # The copy first: the user's package must import from it, never from their tree.
        paths = [str(project)]
        if (project / "src").is_dir():
            paths.append(str(project / "src"))
        paths.append(_PLUGIN_ROOT)
        return paths

    def _wait(self, child: _Child, tree: ProcessTree, reader: RecordReader,
              total: float, per_test: float) -> tuple[str, str | None]:
        """Poll until the child exits, the run or a test times out, or the user cancels."""
        deadline = time.monotonic() + total
        hang_limit = per_test + HARD_TIMEOUT_GRACE + _HANG_SLACK
        next_refresh = 0.0
        while not child.poll():
            if self.cancel.cancelled:
                raise Cancelled()
            now = time.monotonic()
            running = reader.poll().running_test
            if now >= deadline:
                return "timeout", running[0] if running else None
            if running and now - running[1] > hang_limit:
                return "test-timeout", running[0]
            if now >= next_refresh:
                tree.refresh()
                next_refresh = now + _REFRESH_SECONDS
            self.cancel.wait(_POLL_SECONDS)
        return "", None

    # -- reports --------------------------------------------------------------

    def _report(self, run: _Run) -> ExecutionReport:
        if run.stopped == "timeout":
            interrupted_message = f"still running when the run timed out after {run.total_timeout:g} s"
        elif run.stopped == "test-timeout":
            interrupted_message = f"timed out after {run.per_test_timeout:g} s (per-test limit)"
        else:
            interrupted_message = f"the test process died in this test ({_exit_description(run.exit_code)})"
        report = ExecutionReport(
            tests=build_outcomes(
                run.records, self._reference_ids,
                interrupted_test=run.interrupted_test, interrupted_message=interrupted_message,
                timeout_message=f"timed out after {run.per_test_timeout:g} s (per-test limit)",
                not_run_message=self._not_run_message(run),
            ),
            peak_rss_kb=run.peak_rss_kb,
            output_tail=run.output_tail,
        )
        report.error, report.timed_out = self._explain(run, report)
        _tally(report, excused_skips(run.records))
        if run.records.tests:
            report.wall_time, report.cpu_time = call_times(run.records)
            report.runs = 1
        return report

    def _not_run_message(self, run: _Run) -> str:
        if run.stopped == "timeout":
            return f"not run: the run timed out after {run.total_timeout:g} s"
        if run.stopped == "test-timeout":
            return "not run: an earlier test hung and the test process was stopped"
        if run.records.internal_error:
            return f"not run: pytest internal error: {run.records.internal_error}"
        if run.records.exitstatus is None:
            return f"not run: the test process ended early ({_exit_description(run.exit_code)})"
        return "not run"

    def _explain(self, run: _Run, report: ExecutionReport) -> tuple[str, bool]:
        """(error, timed_out): the one short, true reason a run went wrong, or ""."""
        limits = self.target.limits
        records, code = run.records, run.exit_code
        if run.stopped == "timeout":
            return f"timed out after {run.total_timeout:g} s", True
        if run.stopped == "test-timeout":
            return f"{run.interrupted_test or 'a test'} timed out after {run.per_test_timeout:g} s", True
        slow = timed_out_tests(records)
        if slow:
            more = f" (and {len(slow) - 1} more)" if len(slow) > 1 else ""
            return f"{slow[0]} timed out after {run.per_test_timeout:g} s{more}", True
        if code is not None and code < 0:
            return self._signal_error(-code, run.peak_rss_kb), False
        memory_error = next((t.nodeid for t in report.tests if "MemoryError" in t.message), None)
        if memory_error:
            return f"memory limit ({limits.memory_mb} MB) exceeded: MemoryError in {memory_error}", False
        if records.exitstatus is None:
            return f"test process exited with code {code} before reporting", False
        if records.collect_errors:
            where, message = records.collect_errors[0]
            first_line = (message.strip().splitlines() or ["unknown error"])[0]
            if "ImportError" in first_line or "ModuleNotFoundError" in first_line:
                return f"import failed: {first_line}", False
            return f"collection failed in {where or 'the session'}: {first_line}", False
        if code == 2:
            return "pytest was interrupted (exit status 2)", False
        if code == 3:
            return f"pytest internal error: {records.internal_error or 'exit status 3'}", False
        if code == 4:
            return f"pytest usage error: {_last_line(run.output_tail)}", False
        if code == 5:
            return "no tests collected", False
        all_good = bool(report.tests) and all(t.outcome in ("passed", "skipped") for t in report.tests)
        if (code == 0) != all_good:
            # Exit status and per-test results disagree: trust neither's passes.
            for outcome in report.tests:
                if outcome.outcome == "passed":
                    outcome.outcome, outcome.message = "error", "result contradicts pytest's exit status"
            return f"pytest exit status {code} disagrees with the per-test results", False
        return "", False

    def _signal_error(self, signum: int, peak_rss_kb: int | None) -> str:
        limits = self.target.limits
        if signum == signal.SIGXCPU:
            return f"killed: CPU time limit ({limits.cpu_seconds} s) exceeded"
        if signum == signal.SIGXFSZ:
            return f"killed: file size limit ({limits.file_size_mb} MB) exceeded"
        near_memory_limit = peak_rss_kb is not None and peak_rss_kb >= 0.8 * limits.memory_mb * 1024
        if near_memory_limit and signum in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
            return f"killed: memory limit ({limits.memory_mb} MB) exceeded"
        return f"killed by signal {_signal_name(signum)}"

    def _syntax_error_report(self, error: str) -> ExecutionReport:
        report = ExecutionReport(
            tests=[TestOutcome(nodeid, "error", error) for nodeid in self._reference_ids or []],
            error=error,
        )
        _tally(report, set())
        return report

    def _repeat(self, source: str, report: ExecutionReport, first: _Run, repeats: int) -> ExecutionReport:
        """Re-run a fully passing candidate to keep its best time; a failing repeat wins."""
        if repeats <= 1 or report.error or report.total == 0 or report.passed != report.total:
            return report
        for _ in range(repeats - 1):
            again = self._launch(source, _Mode.PLAIN)
            again_report = self._report(again)
            same_tests = {t.nodeid for t in again_report.tests} == {t.nodeid for t in report.tests}
            if again_report.error or again_report.passed != again_report.total or not same_tests:
                again_report.error = again_report.error or "flaky: passed once, then failed on a repeat"
                return again_report
            wall, cpu = call_times(again.records)
            report.wall_time = wall if report.wall_time is None else min(report.wall_time, wall)
            report.cpu_time = cpu if report.cpu_time is None else min(report.cpu_time, cpu)
            if again.peak_rss_kb is not None and report.peak_rss_kb is not None:
                report.peak_rss_kb = min(report.peak_rss_kb, again.peak_rss_kb)
            report.runs += 1
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

    def _remember_reference_ids(self, run: _Run) -> None:
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


def _tally(report: ExecutionReport, excused: set[str]) -> None:
    counted = [t for t in report.tests if not (t.outcome == "skipped" and t.nodeid in excused)]
    report.passed = sum(t.outcome == "passed" for t in counted)
    report.failed = sum(t.outcome in ("failed", "error") for t in counted)
    report.total = len(counted)


def _syntax_error(source: str) -> str:
    try:
        ast.parse(source)
    except SyntaxError as error:
        return f"SyntaxError in candidate: {error.msg} (line {error.lineno})"
    except ValueError as error:  # e.g. a null byte
        return f"SyntaxError in candidate: {error}"
    return ""


def _send_nonce(popen: subprocess.Popen, nonce: str) -> None:
    assert popen.stdin is not None
    try:
        popen.stdin.write(nonce.encode("ascii"))
        popen.stdin.close()
    except OSError:
        pass  # the child died before reading it; the wait reports why


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


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {_signal_name(-code)}"
    return f"exit code {code}"
