"""pytest plugin loaded in the sandboxed pytest (`-p orps_lsp.sandbox.plugin`).

It reports to the executor, one line per event, on a file descriptor the
executor opened and passed down (its number in ORPS_RESULTS_FD). When pytest
registers this module, before any conftest, test module or candidate code
runs, `pytest_addhooks` takes that descriptor, moves it to a high number, hides
the variable, reads an HMAC key from stdin and registers a `_Reporter` holding
all of it. The module itself keeps no state: a candidate that imports it finds
no channel, no key and no hook it could call to report a pass.

Each line is `MAC JSON`: an HMAC-SHA256 of the JSON under the key, with a
sequence number inside the JSON. Whoever reads the file (a candidate can reopen
the descriptor through /proc) learns no key, so cannot add lines the executor
accepts, nor replay old ones. Lines are written unbuffered, so a run killed
half-way still leaves the results of the tests it finished.

What the reporter writes with (os.write, the HMAC, a JSON encoder) is bound at
import, before the candidate could replace it; `HarnessGuard` (guard.py) checks,
before every record, that pytest and this plugin were not patched from the project.

Events: {"kind": "collected", "nodeids": [...]}, {"kind": "collect_error", ...},
{"kind": "start", "nodeid", "time"}, {"kind": "test", "nodeid", "outcome",
"message", "duration", "cpu", "excused", "timed_out"}, {"kind": "tamper",
"what"}, {"kind": "imports", "seen", "elsewhere", "replaced"}, {"kind": "finish", "exitstatus", "peak_rss_kb", "stray"},
{"kind": "internal_error", "message"}; the oracle (capture.py): {"kind": "call", "index", "args", "call",
"shapes", "outcome", "after", "stdout"} and {"kind": "capture", "installed", "not_captured"} in the capture run,
{"kind": "replay" | "replay_again", "index", "outcome", "after", "stdout"}, {"kind": "generated" |
"generated_again", "index", "call", "outcome", "after", "stdout"}, {"kind": "replay_unavailable", "why"},
{"kind": "symbolic", "inputs", "seconds", "note"} (CrossHair's proposals, symbolic.py).

Per-test timeout, two stages: SIGALRM raises `PerTestTimeout` in the test
(the session goes on with the next test); if the test is stuck in C code and
never sees the signal, faulthandler's watchdog thread, which needs no GIL,
dumps the stacks onto the results descriptor a second later and _exits.
"""

from __future__ import annotations

import contextlib
import faulthandler
import fcntl
import hmac
import itertools
import json
import os
import resource
import signal
import time
from collections.abc import Generator
from typing import Any, TypeGuard

import pytest

from . import benchmark, capture, line_profile, scaling  # bound before any project code: the clocks they time with
from .guard import HarnessGuard
from .imports import ImportCheck
from .test_code import TestCodeCheck
from .protocol import (
    CANDIDATE_FILE_VAR,
    CANDIDATE_NAMES_VAR,
    CAPTURE_VAR,
    HARD_TIMEOUT_GRACE,
    KEY_CHARS,
    MAC_CHARS,
    MARKER_VAR,
    BENCHMARK_MAX_PASSES,
    BENCHMARK_MAX_SECONDS,
    GENERATED_CALL_SECONDS,
    GENERATED_SECONDS,
    OWN_NAMESPACE_VAR,
    REPLAY_FILE_VAR,
    REPLAY_SECONDS,
    RESULTS_FD_VAR,
    TIMEOUT_VAR,
    crosshair_cap,
    replay_plan,
)

_MESSAGE_CHARS = 600
# Bound now, before any project code runs: replacing os.write, json or hmac
# later does not reach the channel.
_write, _getpid = os.write, os.getpid
_encode = json.JSONEncoder(separators=(",", ":")).encode
_hmac_digest = hmac.digest
# The same for what measures: a candidate that replaces time.perf_counter, time.process_time
# or open (to slow its clocks, or to fake /proc/self/status) changes what its own code
# sees, not the figures that judge it. Replacing these names here is tampering (guard.py).
_wall_clock, _cpu_clock, _epoch_clock = time.perf_counter, time.process_time, time.time
_open = open


class PerTestTimeout(BaseException):
    """Raised in a test that ran past the per-test limit.

    A BaseException so that the candidate's `except Exception` does not swallow it.
    """


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Called once, when pytest registers this module: set up the real plugin."""
    fd_text = os.environ.pop(RESULTS_FD_VAR, None)
    if fd_text is None:
        return  # a plain pytest run, or called again: nothing to do
    channel = _Channel(_park(int(fd_text)), _read_key())
    _stdin_from_devnull()
    # A crash (SIGSEGV, abort) prints its Python stack here rather than into
    # pytest's capture of fd 2, which dies with the process.
    faulthandler.enable(file=channel.fd, all_threads=True)
    reporter = _Reporter(
        channel,
        float(os.environ.pop(TIMEOUT_VAR, "0") or 0),
        os.environ.get(MARKER_VAR, ""),
        own_namespace=os.environ.pop(OWN_NAMESPACE_VAR, "") == "1",
        imports=ImportCheck.from_environment(os.environ.pop(CANDIDATE_FILE_VAR, ""), os.environ.pop(CANDIDATE_NAMES_VAR, "")),
        capturing=os.environ.pop(CAPTURE_VAR, "") == "1",
        replay=_read_replay(os.environ.pop(REPLAY_FILE_VAR, "")),
    )
    pluginmanager.register(reporter, "orps-sandbox-reporter")


class _Channel:
    __slots__ = ("fd", "_key", "_pid", "_sequence")

    def __init__(self, fd: int, key: bytes) -> None:
        self.fd = fd
        self._key = key
        self._pid = _getpid()
        self._sequence = itertools.count()

    def send(self, record: dict[str, Any]) -> None:
        if _getpid() != self._pid:
            return  # a test forked: only the pytest process itself reports
        record["seq"] = next(self._sequence)
        body = _encode(record).encode()
        mac = _hmac_digest(self._key, body, "sha256").hex()[:MAC_CHARS]
        data = mac.encode() + b" " + body + b"\n"
        while data:
            written = _write(self.fd, data)
            data = data[written:]


def _park(fd: int) -> int:
    """Out of the way of the low numbers code opens and closes, and not
    inherited by the programs tests start."""
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    parked = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, max(3, min(soft_limit, 4096) - 64))
    os.close(fd)
    return parked


def _read_key() -> bytes:
    key = b""
    while len(key) < KEY_CHARS:
        chunk = os.read(0, KEY_CHARS - len(key))
        if not chunk:
            break
        key += chunk
    return key


def _stdin_from_devnull() -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _read_replay(path: str) -> dict[str, Any] | None:
    """What to replay (protocol.replay_plan), read and removed before any project code
    runs: a candidate finds no file it could empty or rewrite."""
    if not path:
        return None
    try:
        with open(path, encoding="ascii") as stream:
            plan = json.load(stream)
        os.unlink(path)
    except (OSError, ValueError):
        return None
    if not isinstance(plan, dict):
        return None
    return replay_plan(
        [str(b) for b in plan.get("calls") or []],
        [g for g in plan.get("generated") or [] if isinstance(g, dict)],
        rounds=2 if plan.get("rounds") == 2 else 1,
        bases_only=plan.get("bases_only") is True,
        symbolic=_symbolic_request(plan.get("symbolic")),
        benchmark=_benchmark_request(plan.get("benchmark")),
    )


def _benchmark_request(asked: Any) -> dict[str, Any] | None:
    """{"original": source, "seconds", "scaling": seconds or 0} (both versions), {"original",
    "heavy": true} (both versions, each call made twice), {"passes",
    "once": how many of the last calls are made once, "chunks": calls per timing of each of
    the others} (this one alone) or {"profile": seconds} (this one, line by line)."""
    if not isinstance(asked, dict):
        return None
    seconds, passes, scaling = asked.get("seconds"), asked.get("passes"), asked.get("scaling", 0)
    if isinstance(asked.get("original"), str) and asked.get("heavy") is True:
        return {"original": asked["original"], "heavy": True}
    if isinstance(asked.get("original"), str) and _seconds(seconds) and (scaling == 0 or _seconds(scaling)):
        return {"original": asked["original"], "seconds": float(seconds), "scaling": float(scaling)}
    once, chunks = asked.get("once", 0), asked.get("chunks")
    if (
        isinstance(passes, int)
        and 0 < passes <= BENCHMARK_MAX_PASSES
        and isinstance(once, int)
        and once >= 0
        and isinstance(chunks, list)
        and all(isinstance(n, int) and n > 0 for n in chunks)
    ):
        return {"passes": passes, "once": once, "chunks": chunks}
    if _seconds(asked.get("profile")):
        return {"profile": float(asked["profile"])}
    return None


def _seconds(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and 0 < value <= BENCHMARK_MAX_SECONDS


def _symbolic_request(asked: Any) -> dict[str, Any] | None:
    if not (isinstance(asked, dict) and isinstance(asked.get("original"), str) and isinstance(asked.get("layout"), dict)):
        return None
    layout = asked["layout"]
    seconds = asked.get("seconds")
    if not (
        isinstance(layout.get("base"), int)
        and isinstance(layout.get("positional"), list)
        and isinstance(layout.get("named"), dict)
        and isinstance(seconds, (int, float))
        and 0 < seconds <= 600
    ):
        return None
    return {
        "original": asked["original"],
        "layout": layout,
        "seconds": float(seconds),
        "compare_messages": asked.get("compare_messages") is True,
    }


def _uses_pytest_benchmark(item: pytest.Item) -> bool:
    """Whether the test requests pytest-benchmark's `benchmark` fixture (a project's
    own fixture of that name is just a fixture: its tests stay)."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.get("benchmark") if info is not None else None
    if not definitions:
        return False
    module = getattr(definitions[-1].func, "__module__", None) or ""
    return module.split(".")[0] == "pytest_benchmark"


def _short_message(report: Any) -> str:
    """The crash line pytest shows (e.g. "AssertionError: assert 3 == 4")."""
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # skip: (path, line, reason)
        return str(longrepr[2])[:_MESSAGE_CHARS]
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        return str(crash.message)[:_MESSAGE_CHARS]
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


class _Reporter:
    """The hooks. Reachable only through pytest's plugin manager."""

    def __init__(
        self,
        channel: _Channel,
        per_test_timeout: float,
        marker: str,
        own_namespace: bool = False,
        imports: ImportCheck | None = None,
        capturing: bool = False,
        replay: dict[str, Any] | None = None,
    ) -> None:
        self._channel = channel
        self._imports = imports
        self._capturing = capturing
        self._replay = replay
        self._module_at_collection: Any = None
        self._per_test_timeout = per_test_timeout
        self._marker = marker
        self._own_namespace = own_namespace
        self._states: dict[str, _TestState] = {}
        self._tamper_reported = False
        # Now, before conftest files and the candidate are imported.
        self._guard = HarnessGuard(os.getcwd())
        self._test_code = TestCodeCheck(os.getcwd())

    def _send(self, record: dict[str, Any]) -> None:
        self._channel.send(record)

    def _tampered(self) -> str:
        """What was patched from the project ("" if nothing); said on the channel once."""
        found = self._guard.check()
        if found and not self._tamper_reported:
            self._tamper_reported = True
            self._send({"kind": "tamper", "what": found})
        return found

    def _on_alarm(self, signum: int, frame: Any) -> None:
        raise PerTestTimeout(f"timed out after {self._per_test_timeout:g} s (per-test limit)")

    @pytest.hookimpl(tryfirst=True)
    def pytest_cmdline_main(self, config: pytest.Config) -> None:
        """Every selected test runs, in every run, whatever the project's addopts say:
        under -x, --maxfail, --sw or --lf a candidate that fails where the original
        fails would stop (or be chosen from) before the tests that catch it."""
        option = config.option
        for name in ("stepwise", "stepwise_skip", "stepwise_reset", "lf"):
            if getattr(option, name, False):
                setattr(option, name, False)
        if getattr(option, "maxfail", 0):
            option.maxfail = 0

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        if self._capturing and hasattr(config.option, "benchmark_disable"):
            config.option.benchmark_disable = True  # pytest-benchmark: one call, not seconds of rounds
        if self._per_test_timeout > 0:
            signal.signal(signal.SIGALRM, self._on_alarm)
        # pytest's faulthandler plugin points crash dumps at its own copy of stderr
        # (which dies with the process): back to the channel, after it.
        faulthandler.enable(file=self._channel.fd, all_threads=True)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Leave out pytest-benchmark tests: they are a workload (seconds of timing
        loops per run), not a check of the answer."""
        # The capture run keeps them: their calls (one each, the timing loops disabled) are the
        # benchmark's most representative inputs.
        workloads = [] if self._capturing else [item for item in items if _uses_pytest_benchmark(item)]
        if self._replay is not None and self._replay["benchmark"]:
            workloads = list(items)  # a benchmark's run: the tests import the module, nothing more
        if workloads:
            items[:] = [item for item in items if item not in workloads]
            config.hook.pytest_deselected(items=workloads)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._send({"kind": "collect_error", "nodeid": report.nodeid, "message": _short_message(report)})

    def _check_imports(self) -> None:
        """Say which module object the tests use for the judged file (see imports.py)."""
        if self._imports is not None:
            try:
                found = self._imports.check()
            except Exception:  # noqa: BLE001 - an odd module object must not become pytest's INTERNALERROR
                return
            self._send({"kind": "imports", **found})

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._tampered()  # candidate code ran at import
        try:
            forged, test_modules = self._test_code.check(session.items, session.config)
        except Exception as exc:  # noqa: BLE001 - an odd object in a test module: not proven, so not trusted
            forged, test_modules = f"the test modules could not be checked ({type(exc).__name__})", []
        if forged:
            self._guard.found(f"a test module is not its file ({forged})")
        self._guard.freeze(test_modules)  # from here on, nothing in the harness or the tests may change
        self._tampered()
        self._check_imports()
        if self._imports is not None and (self._capturing or self._replay):
            # Kept for the replay: a test may take the module out of sys.modules (markupsafe's do).
            self._module_at_collection = self._imports.candidate_module()
        self._send({"kind": "collected", "nodeids": [item.nodeid for item in session.items]})

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, None]:
        self._states[item.nodeid] = _TestState()
        self._send({"kind": "start", "nodeid": item.nodeid, "time": _epoch_clock()})
        armed = self._per_test_timeout > 0
        if armed:
            faulthandler.dump_traceback_later(self._per_test_timeout + HARD_TIMEOUT_GRACE, exit=True, file=self._channel.fd)
            signal.setitimer(signal.ITIMER_REAL, self._per_test_timeout)
        try:
            yield
        finally:
            if armed:
                signal.setitimer(signal.ITIMER_REAL, 0)
                faulthandler.cancel_dump_traceback_later()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, None]:
        wall_start, cpu_start = _wall_clock(), _cpu_clock()
        try:
            yield
        finally:
            state = self._states.get(item.nodeid)
            if state is not None:
                state.duration = _wall_clock() - wall_start
                state.cpu = _cpu_clock() - cpu_start

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self._states.get(report.nodeid)
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
            state.excused = bool(report.keywords.get("skip") or report.keywords.get("skipif") or report.keywords.get("xfail"))

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        state = self._states.pop(nodeid, None)
        if state is None:
            return
        found = self._tampered()  # right before the record, with no project code in between
        if found:
            state.outcome, state.message = "error", f"the test harness was tampered with: {found}"
        self._send(
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

    def pytest_internalerror(self, excrepr: Any, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self._send({"kind": "internal_error", "message": f"{excinfo.typename}: {excinfo.value}"[:_MESSAGE_CHARS]})

    def _replay_calls(self) -> None:
        """The original is the oracle (capture.py): in the capture run, what the tests'
        calls did and how they replay; in the other runs, how the module's function
        replays the calls and generated inputs it is given."""
        if self._imports is None or not (self._capturing or self._replay):
            return
        plan = self._replay or replay_plan([], [])
        if self._capturing:
            recorder = capture.RECORDER
            for index, call in enumerate(recorder.calls):
                self._send({"kind": "call", "index": index, **call})
            self._send({"kind": "capture", "installed": recorder.installed, "not_captured": recorder.not_captured})
            # The capture replays twice: a call must come out the same three times to be an oracle.
            plan = replay_plan([call["args"] for call in recorder.calls], [], rounds=2)
        module = self._imports.candidate_module() or self._module_at_collection
        if module is None:
            self._send({"kind": "replay_unavailable", "why": "the tests did not load the module through sys.modules"})
            return
        function, bound = capture.resolve(module, self._imports.function)
        if function is None:
            self._send({"kind": "replay_unavailable", "why": f"the module has no function {self._imports.function}"})
            return

        def alarm(seconds: float) -> None:
            if self._per_test_timeout > 0:
                signal.setitimer(signal.ITIMER_REAL, seconds)

        per_call = self._per_test_timeout or REPLAY_SECONDS
        for again in range(plan["rounds"]):
            suffix = "_again" if again else ""
            hung = False
            for result in [] if plan["bases_only"] else capture.replay(function, plan["calls"], REPLAY_SECONDS, per_call, alarm):
                self._send({"kind": "replay" + suffix, **result})
                hung = hung or result["outcome"][0] == "timed_out"
            if plan["generated"] and not hung:  # a call that hung already tells it apart
                for result in capture.replay_generated(
                    function,
                    self._imports.function,
                    bound,
                    plan["calls"],
                    plan["generated"],
                    GENERATED_SECONDS,
                    min(per_call, GENERATED_CALL_SECONDS),
                    alarm,
                ):
                    self._send({"kind": "generated" + suffix, **result})
        if plan["symbolic"]:
            self._send({"kind": "symbolic", **self._symbolic(module, plan["symbolic"])})
        if plan["benchmark"]:
            self._send({"kind": "benchmark", **self._benchmark(module, plan["calls"], plan["benchmark"], alarm)})

    def _replayed_function(self) -> str:
        """The function the replay calls ("f" or "Class.method"); only asked for from `_replay_calls`,
        which returns early when there is no import check."""
        assert self._imports is not None, "replays run only with the candidate's import check"
        return self._imports.function

    def _benchmark(self, module: Any, blobs: list[str], asked: dict[str, Any], alarm: Any) -> dict[str, Any]:
        """Per-call timings (benchmark.py); each timing under the per-test limit."""
        limit = self._per_test_timeout or REPLAY_SECONDS
        try:
            function = self._replayed_function()
            with contextlib.redirect_stdout(benchmark.Discard()):
                if "passes" in asked:
                    return benchmark.alone(module, function, blobs, asked["passes"], limit, alarm, asked["once"], asked["chunks"])
                if "profile" in asked:
                    return line_profile.profile(module, function, blobs, asked["profile"], limit, alarm)
                original = capture.beside(asked["original"], module)
                if asked.get("heavy"):
                    return benchmark.heavy(original, module, function, blobs, limit, alarm, self._tampered)
                found = benchmark.compare(original, module, function, blobs, asked["seconds"], limit, alarm, self._tampered)
                if asked["scaling"] and not found.get("note"):
                    found["scaling"] = self._scaling(original, module, blobs, asked["scaling"], limit, alarm)
                return found
        except PerTestTimeout:
            return {"note": f"a timing ran past the {limit:g} s limit"}
        except Exception as exc:  # noqa: BLE001 - no figure, said so
            return {"note": f"the benchmark failed: {type(exc).__name__}: {exc}"[:_MESSAGE_CHARS]}

    def _scaling(self, original: Any, module: Any, blobs: list[str], seconds: float, limit: float, alarm: Any) -> dict[str, Any]:
        """Both versions on grown calls (scaling.py); a failure there leaves the timings above."""
        try:
            found = scaling.measure(original, module, self._replayed_function(), blobs, seconds, limit, alarm)
        except Exception as exc:  # noqa: BLE001 - no growth figure, said so
            return {"calls": [], "note": f"scaling failed: {type(exc).__name__}: {exc}"[:_MESSAGE_CHARS]}
        return {**found, "tampered": bool(self._tampered())}

    def _symbolic(self, module: Any, asked: dict[str, Any]) -> dict[str, Any]:
        """CrossHair's search for a difference from the original (symbolic.py), under a hard
        cap of twice its budget: it bounds itself, but runs the candidate's code. (Without
        a per-test limit there is no alarm handler: the run's own time limit is the cap.)"""
        from . import symbolic

        cap = crosshair_cap(asked["seconds"])
        if self._per_test_timeout > 0:
            signal.setitimer(signal.ITIMER_REAL, cap)
        try:
            return symbolic.search(
                asked["original"], module, self._replayed_function(), asked["layout"], asked["seconds"], asked["compare_messages"]
            )
        except PerTestTimeout:
            return {"inputs": [], "seconds": cap, "note": "CrossHair ran past its time"}
        except Exception as exc:  # noqa: BLE001 - an unsupported construct: no finding, said so
            return {"inputs": [], "seconds": 0.0, "note": f"CrossHair failed: {type(exc).__name__}: {exc}"[:_MESSAGE_CHARS]}
        finally:
            if self._per_test_timeout > 0:
                signal.setitimer(signal.ITIMER_REAL, 0)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._tampered()
        self._check_imports()
        try:
            self._replay_calls()
        except Exception as exc:  # noqa: BLE001 - the replay must never become pytest's INTERNALERROR
            self._send({"kind": "replay_unavailable", "why": f"{type(exc).__name__}: {exc}"[:_MESSAGE_CHARS]})
        self._tampered()  # the replay ran the candidate's code again: a harness it patched voids the run
        stray = _stray_processes(self._marker, self._own_namespace) if self._marker else 0
        self._send({"kind": "finish", "exitstatus": int(exitstatus), "peak_rss_kb": _peak_rss_kb(), "stray": stray})


def _peak_rss_kb() -> int | None:
    """This process's own high-water RSS (VmHWM).

    Not ru_maxrss: after fork+exec Linux keeps the parent's high-water mark
    there, so a child of a server holding a model in memory would report
    the model's size.
    """
    try:
        with _open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _stray_processes(marker: str, own_namespace: bool = False) -> int:
    """Processes of this run that are neither this process, its ancestors nor its descendants.

    Such a process detached itself (setsid, double fork) to outlive the tests.
    Found by the run's marker variable in /proc, or, in a pid namespace of the
    run's own, as any process there; a candidate can hide one from this count,
    but not from the executor's kill, which comes regardless.
    """
    wanted = f"{MARKER_VAR}={marker}".encode()
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with _open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            if fields[0] in (b"Z", b"X"):
                continue  # dead, waiting to be reaped
            if not own_namespace:
                with _open(f"/proc/{entry}/environ", "rb") as environ:
                    if wanted not in environ.read().split(b"\0"):
                        continue
            parents[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    me = _getpid()
    ancestors, pid = set(), me
    while pid in parents:  # up to the executor's process, which has no marker
        pid = parents[pid]
        ancestors.add(pid)

    def descends_from_me(pid: int) -> bool:
        seen = set()
        while pid in parents and pid not in seen:
            seen.add(pid)
            pid = parents[pid]
            if pid == me:
                return True
        return False

    return sum(1 for pid in parents if pid != me and pid not in ancestors and not descends_from_me(pid))
