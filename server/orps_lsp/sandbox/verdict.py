"""From what one sandboxed run showed to the one short, true reason it went wrong.

The reason is decided here, on the trusted side, from what the executor saw
(exit status, its own stops, the judge files) and the verified records; a run
that tampered with the harness or the tests loses its passes whatever it says.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field

from ..executor import SandboxLimits
from ..report import ExecutionReport
from .results import RunRecords, timed_out_tests

# How the executor stopped a run; "" when the process exited by itself.
STOP_TIMEOUT, STOP_TEST_TIMEOUT, STOP_EXIT_HANG, STOP_DISK, STOP_PROCESSES = (
    "timeout",
    "test-timeout",
    "exit-hang",
    "disk",
    "processes",
)


@dataclass
class Run:
    records: RunRecords
    exit_code: int | None  # negative: killed by that signal
    peak_rss_kb: int | None
    stopped: str  # "" or one of the STOP_ values
    interrupted_test: str | None  # the test running when the process was stopped or died
    output_tail: str
    per_test_timeout: float
    total_timeout: float
    exit_grace: float = 0.0
    disk_budget_mb: int = 0
    judge_changes: list[str] = field(default_factory=list)  # tests the run changed, "path (how)"
    pids_limit_hit: bool = False  # a fork failed at the pids cgroup's limit
    measurement: float | None = None  # coverage ratio or instruction count
    outside_cpu: float | None = None  # seconds, counted by the kernel (report.outside_cpu_times)
    outside_wall: float | None = None  # seconds, from the start to the exit, seen by the executor

    @property
    def completed(self) -> bool:
        """pytest got to the end of its session and the process exited by itself."""
        return self.records.exitstatus is not None and not self.stopped and (self.exit_code or 0) >= 0

    @property
    def trusted(self) -> bool:
        """Nothing says its passes were faked."""
        records = self.records
        return not (records.tamper or records.forged or records.truncated or self.judge_changes)


def not_run_message(run: Run) -> str:
    if run.stopped == STOP_TIMEOUT:
        return f"not run: the run timed out after {run.total_timeout:g} s"
    if run.stopped == STOP_TEST_TIMEOUT:
        return "not run: an earlier test hung and the test process was stopped"
    if run.stopped:
        return f"not run: the test process was stopped ({run.stopped})"
    if run.records.internal_error:
        return f"not run: pytest internal error: {run.records.internal_error}"
    if run.records.exitstatus is None:
        return f"not run: the test process ended early ({exit_description(run.exit_code)})"
    return "not run"


def interrupted_message(run: Run) -> str:
    if run.stopped == STOP_TIMEOUT:
        return f"still running when the run timed out after {run.total_timeout:g} s"
    if run.stopped == STOP_TEST_TIMEOUT:
        return f"timed out after {run.per_test_timeout:g} s (per-test limit)"
    if run.stopped:
        return f"still running when the test process was stopped ({stop_reason(run)})"
    return f"the test process died in this test ({exit_description(run.exit_code)})"


def explain(run: Run, report: ExecutionReport, limits: SandboxLimits) -> tuple[str, bool]:
    """(error, timed_out): why the run went wrong, or "". Voids passes it cannot trust."""
    error, timed_out = _untrusted(run) or _explain(run, report, limits)
    wrong_module = not_the_candidate(run, bool(error))
    if wrong_module:
        error, timed_out = wrong_module, False
        void_passes(report, error)
    if run.pids_limit_hit:
        error = f"process limit ({limits.max_processes}) reached" + (f"; {error}" if error else "")
    if not error and run.records.stray:
        error = f"left {run.records.stray} background process(es) running after the tests (killed)"
        void_passes(report, error)
    elif not run.trusted or run.stopped == STOP_EXIT_HANG:
        void_passes(report, error)
    return error, timed_out


def start_problem(run: Run, report: ExecutionReport) -> str:
    """Why the tests did not start as they should, or "" (they ran; some may fail).

    For the original this stops the search before anything is generated: a
    collection error, a usage error, a warning the project turns into an error,
    or a selection that runs no test would otherwise be held against every
    candidate alike, and the search would end with "nothing passed".
    """
    records = run.records
    wrong_module = not_the_candidate(run, explained=True)  # another copy, or a replaced function
    if wrong_module:
        return wrong_module
    if run.stopped == STOP_TIMEOUT and records.collected is None:
        return f"collecting the tests did not finish within {run.total_timeout:g} s"
    if records.collect_errors:
        where, message = records.collect_errors[0]
        first_line = (message.strip().splitlines() or ["unknown error"])[0]
        return f"collecting {where or 'the tests'} failed: {first_line}"
    if records.internal_error:
        return f"pytest internal error: {records.internal_error}"
    if records.exitstatus is None and not records.tests:
        return f"the test process ended before running any test ({exit_description(run.exit_code)})"
    if records.exitstatus in (2, 3, 4):
        return report.error or f"pytest exit status {records.exitstatus}"
    ran = [t for t in report.tests if t.outcome != "skipped" and t.nodeid in records.tests]
    if not ran:
        if records.collected == []:
            return "no test was selected (a -k expression or the arguments match none)"
        if records.tests:
            return f"every one of the {len(records.tests)} selected tests skipped itself"
        return report.error or "no test ran"
    return not_the_candidate(run)  # never imported


def not_the_candidate(run: Run, explained: bool = False) -> str:
    """Why the tests of this run did not judge the candidate's module, or "".

    A look-alike module or a replaced function always counts; a module never
    imported counts only when nothing else explains it (a candidate that fails
    to import is reported as such).
    """
    records = run.records
    if not records.imports_checked:
        return ""
    if records.imports_elsewhere:
        name, file = records.imports_elsewhere[0]
        return (
            f"the tests imported {name} from {file}, not the candidate's copy in the sandbox "
            "(an installed or editable copy of the package came first)"
        )
    if records.imports_replaced and records.imports_seen:
        return (
            f"the module replaces the function after defining it: the tests call the one from "
            f"{records.imports_replaced}, not the candidate"
        )
    if not records.imports_seen and not explained and records.exitstatus is not None:
        return (
            "the tests never imported the module in the test process (do they run it in a subprocess, "
            "or import another copy?): they cannot be judging the candidate"
        )
    return ""


def _untrusted(run: Run) -> tuple[str, bool] | None:
    records = run.records
    if records.tamper:
        return f"the candidate tampered with the test harness ({records.tamper})", False
    if run.judge_changes:
        more = f" and {len(run.judge_changes) - 1} more" if len(run.judge_changes) > 1 else ""
        return f"the candidate changed the tests: {run.judge_changes[0]}{more}", False
    if records.forged or records.truncated:
        what = "truncated the results channel" if records.truncated else f"{records.forged} line(s) ignored"
        return f"forged test results on the results channel ({what})", False
    return None


def _explain(run: Run, report: ExecutionReport, limits: SandboxLimits) -> tuple[str, bool]:
    records, code = run.records, run.exit_code
    if run.stopped == STOP_TIMEOUT:
        return f"timed out after {run.total_timeout:g} s", True
    if run.stopped == STOP_TEST_TIMEOUT:
        return f"{run.interrupted_test or 'a test'} timed out after {run.per_test_timeout:g} s", True
    if run.stopped:
        return stop_reason(run), run.stopped == STOP_EXIT_HANG
    slow = timed_out_tests(records)
    if slow:
        more = f" (and {len(slow) - 1} more)" if len(slow) > 1 else ""
        return f"{slow[0]} timed out after {run.per_test_timeout:g} s{more}", True
    if code is not None and code < 0:
        return signal_error(-code, run.peak_rss_kb, limits), False
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
        void_passes(report, "result contradicts pytest's exit status")
        return f"pytest exit status {code} disagrees with the per-test results", False
    return "", False


def stop_reason(run: Run) -> str:
    if run.stopped == STOP_EXIT_HANG:
        return (
            f"the test process did not exit within {run.exit_grace:g} s after its tests finished "
            "(a thread or child process kept it alive)"
        )
    if run.stopped == STOP_DISK:
        return f"disk limit ({run.disk_budget_mb} MB) exceeded: the run wrote more than that"
    if run.stopped == STOP_PROCESSES:
        return "process limit exceeded: too many processes (fork bomb?)"
    return run.stopped


def signal_error(signum: int, peak_rss_kb: int | None, limits: SandboxLimits) -> str:
    if signum == signal.SIGXCPU:
        return f"killed: CPU time limit ({limits.cpu_seconds} s) exceeded"
    if signum == signal.SIGXFSZ:
        return f"killed: file size limit ({limits.file_size_mb} MB) exceeded"
    near_memory_limit = peak_rss_kb is not None and peak_rss_kb >= 0.8 * limits.memory_mb * 1024
    if near_memory_limit and signum in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
        return f"killed: memory limit ({limits.memory_mb} MB) exceeded"
    return f"killed by signal {signal_name(signum)}"


def void_passes(report: ExecutionReport, message: str) -> None:
    for outcome in report.tests:
        if outcome.outcome == "passed":
            outcome.outcome, outcome.message = "error", message


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_description(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {signal_name(-code)}"
    return f"exit code {code}"


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
