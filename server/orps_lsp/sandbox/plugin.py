"""pytest plugin loaded in the sandboxed pytest (`-p orps_lsp.sandbox.plugin`).

It reports to the executor, one JSON line per event, on a file descriptor the
executor opened and passed down (its number in ORPS_RESULTS_FD). The plugin
takes that descriptor when pytest imports it, before any conftest, test module
or candidate code runs, moves it to a high number, hides the variable, and
stamps every line with a nonce read from stdin, so a candidate cannot trivially
forge results. Lines are written unbuffered, so a run killed half-way still
leaves the results of the tests it finished.

Events: {"kind": "collected", "nodeids": [...]}, {"kind": "collect_error", ...},
{"kind": "start", "nodeid", "time"}, {"kind": "test", "nodeid", "outcome",
"message", "duration", "cpu", "excused", "timed_out"}, {"kind": "finish",
"exitstatus"},
{"kind": "internal_error", "message"}.

Per-test timeout, two stages: SIGALRM raises `PerTestTimeout` in the test
(the session goes on with the next test); if the test is stuck in C code and
never sees the signal, faulthandler's watchdog thread, which needs no GIL,
dumps the stacks onto the results descriptor a second later and _exits.
"""

from __future__ import annotations

import faulthandler
import fcntl
import json
import os
import resource
import signal
import time
from typing import Any

import pytest

from .protocol import HARD_TIMEOUT_GRACE, NONCE_BYTES, RESULTS_FD_VAR, TIMEOUT_VAR

_MESSAGE_CHARS = 600


class PerTestTimeout(BaseException):
    """Raised in a test that ran past the per-test limit.

    A BaseException so that the candidate's `except Exception` does not swallow it.
    """


class _Channel:
    def __init__(self, fd: int, nonce: str) -> None:
        self.fd = fd
        self.nonce = nonce
        self.pid = os.getpid()

    @classmethod
    def from_environment(cls) -> _Channel | None:
        fd_text = os.environ.pop(RESULTS_FD_VAR, None)
        if fd_text is None:
            return None  # plain pytest run: the plugin does nothing
        nonce = os.read(0, NONCE_BYTES).decode("ascii", "replace")
        _stdin_from_devnull()
        soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        fd = int(fd_text)
        # Out of the way of the low numbers code opens and closes, and not
        # inherited by the programs tests start.
        parked = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, max(3, min(soft_limit, 4096) - 64))
        os.close(fd)
        return cls(parked, nonce)

    def send(self, record: dict[str, Any]) -> None:
        if os.getpid() != self.pid:
            return  # a test forked: only the pytest process itself reports
        record["nonce"] = self.nonce
        data = (json.dumps(record) + "\n").encode()
        while data:
            written = os.write(self.fd, data)
            data = data[written:]


def _stdin_from_devnull() -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


_channel = _Channel.from_environment()
if _channel is not None:
    # A crash (SIGSEGV, abort) prints its Python stack here rather than into
    # pytest's capture of fd 2, which dies with the process.
    faulthandler.enable(file=_channel.fd, all_threads=True)
_per_test_timeout = float(os.environ.pop(TIMEOUT_VAR, "0") or 0)


def _send(record: dict[str, Any]) -> None:
    if _channel is not None:
        _channel.send(record)


def _short_message(report: Any) -> str:
    """The crash line pytest shows (e.g. "AssertionError: assert 3 == 4")."""
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # skip: (path, line, reason)
        return str(longrepr[2])[:_MESSAGE_CHARS]
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        return crash.message[:_MESSAGE_CHARS]
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    error_lines = [line[1:].strip() for line in lines if line.startswith("E ")]
    return "\n".join((error_lines or lines)[-5:])[:_MESSAGE_CHARS]


class _TestState:
    def __init__(self) -> None:
        self.outcome = "passed"
        self.message = ""
        self.duration = 0.0
        self.cpu = 0.0
        self.excused = False
        self.timed_out = False


_states: dict[str, _TestState] = {}


def _on_alarm(signum: int, frame: Any) -> None:
    raise PerTestTimeout(f"timed out after {_per_test_timeout:g} s (per-test limit)")


def pytest_configure(config: pytest.Config) -> None:
    if _channel is not None and _per_test_timeout > 0:
        signal.signal(signal.SIGALRM, _on_alarm)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _send({"kind": "collect_error", "nodeid": report.nodeid, "message": _short_message(report)})


def pytest_collection_finish(session: pytest.Session) -> None:
    _send({"kind": "collected", "nodeids": [item.nodeid for item in session.items]})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _states[item.nodeid] = _TestState()
    _send({"kind": "start", "nodeid": item.nodeid, "time": time.time()})
    armed = _channel is not None and _per_test_timeout > 0
    if _channel is not None and armed:
        faulthandler.dump_traceback_later(_per_test_timeout + HARD_TIMEOUT_GRACE, exit=True, file=_channel.fd)
        signal.setitimer(signal.ITIMER_REAL, _per_test_timeout)
    try:
        yield
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        state = _states.get(item.nodeid)
        if state is not None:
            state.duration = time.perf_counter() - wall_start
            state.cpu = time.process_time() - cpu_start


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    state = _states.get(report.nodeid)
    if state is None or state.outcome in ("failed", "error"):
        return  # the first failure of a test is the one that explains it
    if report.failed:
        state.outcome = "failed" if report.when == "call" else "error"
        state.message = _short_message(report)
        state.timed_out = "PerTestTimeout" in report.longreprtext
    elif report.skipped:
        state.outcome = "skipped"
        state.message = _short_message(report) or str(getattr(report, "wasxfail", ""))
        # Skipped by a mark (skip, skipif, xfail) rather than by pytest.skip()
        # called from code the candidate controls: such a skip is not held
        # against the candidate.
        state.excused = bool(report.keywords.get("skip") or report.keywords.get("skipif")
                             or report.keywords.get("xfail"))


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    state = _states.pop(nodeid, None)
    if state is None:
        return
    _send(
        {
            "kind": "test",
            "nodeid": nodeid,
            "outcome": state.outcome,
            "message": state.message,
            "duration": state.duration,
            "cpu": state.cpu,
            "excused": state.excused,
            "timed_out": state.timed_out,
        }
    )


def pytest_internalerror(excrepr: Any, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    _send({"kind": "internal_error", "message": f"{excinfo.typename}: {excinfo.value}"[:_MESSAGE_CHARS]})


def _peak_rss_kb() -> int | None:
    """This process's own high-water RSS (VmHWM).

    Not ru_maxrss: after fork+exec Linux keeps the parent's high-water mark
    there, so a child of a server holding a model in memory would report
    the model's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _send({"kind": "finish", "exitstatus": int(exitstatus), "peak_rss_kb": _peak_rss_kb()})
