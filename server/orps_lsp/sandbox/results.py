"""Reading the plugin's result lines and turning them into per-test outcomes.

The plugin writes one `MAC JSON` line per event (see plugin.py). Only lines
whose HMAC verifies under this run's key, in sequence, count. A line that
looks like a record but does not verify is counted as forged; anything else on
the channel (faulthandler's stack dump when a test hung in C code) is kept as
text for the output tail, up to MAX_LOOSE_CHARS: past that it is junk only a
candidate writes, counted as forged too. Reading is linear in what was written,
whatever the candidate writes.
"""

from __future__ import annotations

import hmac
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..report import TestOutcome
from .protocol import MAC_CHARS

WATCHDOG_MARK = "Timeout ("  # how faulthandler's dump_traceback_later output begins
# Text on the channel that is no record: faulthandler's dump of every thread's stack is a few
# KiB, far under this; anything past it is junk (megabytes of it once made reading quadratic).
MAX_LOOSE_CHARS = 256 * 1024


# The oracle's indexed events and the RunRecords field each goes to.
_INDEXED = {
    "call": "calls",
    "replay": "replays",
    "replay_again": "replays_again",
    "generated": "generated",
    "generated_again": "generated_again",
}


@dataclass
class RunRecords:
    collected: list[str] | None = None  # None: collection never finished
    collect_errors: list[tuple[str, str]] = field(default_factory=list)  # (nodeid, message)
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)  # nodeid -> when the executor saw it start
    exitstatus: int | None = None  # from the plugin's sessionfinish; None: it never got there
    peak_rss_kb: int | None = None  # the pytest process's own VmHWM, from sessionfinish
    internal_error: str = ""  # pytest's INTERNALERROR, e.g. SystemExit raised while collecting
    watchdog_text: str = ""
    tamper: str = ""  # what the plugin's harness guard found replaced
    stray: int = 0  # processes that detached from the test process (plugin's count at the end)
    imports_checked: bool = False  # the plugin said which module the tests use (imports.py)
    imports_seen: list[str] = field(default_factory=list)  # names the candidate's file was imported by
    imports_elsewhere: list[tuple[str, str]] = field(default_factory=list)  # (name, file) look-alikes
    imports_replaced: str = ""  # where the function the module exposes comes from, when not the candidate
    # The original is the oracle (capture.py): the capture run's calls, by index; the replay's outcomes.
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    capture_installed: bool = False
    not_captured: dict[str, int] = field(default_factory=dict)  # why -> how many calls
    replays: dict[int, dict[str, Any]] = field(default_factory=dict)
    replays_again: dict[int, dict[str, Any]] = field(default_factory=dict)  # the capture run's second replay
    generated: dict[int, dict[str, Any]] = field(default_factory=dict)  # generated inputs' outcomes (generate.py)
    generated_again: dict[int, dict[str, Any]] = field(default_factory=dict)  # the original's second round
    replay_unavailable: str = ""
    # CrossHair's proposals (symbolic.py): {"inputs": [...], "seconds", "note"}; None when not asked.
    symbolic: dict[str, Any] | None = None
    # The per-call benchmark's raw timings (benchmark.py); None when not asked.
    benchmark: dict[str, Any] | None = None
    forged: int = 0  # record-like lines that failed verification
    truncated: bool = False  # the channel file shrank under the reader

    @property
    def running_test(self) -> tuple[str, float] | None:
        """The test that started and has not finished, with when it was seen starting."""
        for nodeid, seen_at in self.started.items():
            if nodeid not in self.tests:
                return nodeid, seen_at
        return None

    @property
    def watchdog_fired(self) -> bool:
        return WATCHDOG_MARK in self.watchdog_text


class RecordReader:
    """Follows the results file while the run writes it."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key.encode("ascii")
        self.records = RunRecords()
        self._offset = 0
        self._partial: list[bytes] = []  # the unfinished last line, in the pieces it came in
        self._sequence = 0
        self._loose: list[str] = []  # joined once, in finish()
        self._loose_chars = 0

    def poll(self) -> RunRecords:
        try:
            with open(self.path, "rb") as stream:
                if stream.seek(0, 2) < self._offset:
                    self.records.truncated = True  # rewritten through /proc: stop trusting it
                stream.seek(self._offset)
                data = stream.read()
        except OSError:
            return self.records
        if self.records.truncated:
            return self.records
        self._offset += len(data)
        if b"\n" not in data:  # an unfinished line waits, in pieces: joined once, when it ends
            if data:
                self._partial.append(data)
            return self.records
        lines = data.split(b"\n")
        lines[0] = b"".join([*self._partial, lines[0]])
        last = lines.pop()  # after the last newline: unfinished (empty when the data ended with one)
        self._partial = [last] if last else []
        for line in lines:
            self._take(line.decode("utf-8", "replace"))
        return self.records

    def finish(self) -> RunRecords:
        self.poll()
        if self._partial:
            self._take(b"".join(self._partial).decode("utf-8", "replace"))
            self._partial = []
        self.records.watchdog_text = "".join(self._loose)
        return self.records

    def _take(self, line: str) -> None:
        record = self._verified(line)
        if record is None:
            return
        self._sequence += 1
        kind, records = record.get("kind"), self.records
        if kind == "collected":
            records.collected = [str(n) for n in record.get("nodeids", [])]
        elif kind == "collect_error":
            records.collect_errors.append((str(record.get("nodeid", "")), str(record.get("message", ""))))
        elif kind == "start":
            records.started.setdefault(str(record.get("nodeid")), time.monotonic())
        elif kind == "test":
            records.tests.setdefault(str(record.get("nodeid")), record)
        elif kind == "internal_error":
            records.internal_error = records.internal_error or str(record.get("message", ""))
        elif kind == "imports":
            records.imports_checked = True
            for name in record.get("seen") or []:
                if str(name) not in records.imports_seen:
                    records.imports_seen.append(str(name))
            for pair in record.get("elsewhere") or []:
                if isinstance(pair, list) and len(pair) == 2 and tuple(map(str, pair)) not in records.imports_elsewhere:
                    records.imports_elsewhere.append((str(pair[0]), str(pair[1])))
            records.imports_replaced = str(record.get("replaced") or "") or records.imports_replaced
        elif kind in _INDEXED and isinstance(record.get("index"), int):
            into = getattr(records, _INDEXED[kind])
            into.setdefault(record["index"], record)
        elif kind == "capture":
            records.capture_installed = bool(record.get("installed"))
            found = record.get("not_captured")
            records.not_captured = (
                {str(k): int(v) for k, v in found.items() if isinstance(v, int)} if isinstance(found, dict) else {}
            )
        elif kind == "replay_unavailable":
            records.replay_unavailable = str(record.get("why", "unknown"))
        elif kind == "symbolic" and records.symbolic is None:
            records.symbolic = record
        elif kind == "benchmark" and records.benchmark is None:
            records.benchmark = record
        elif kind == "tamper":
            records.tamper = records.tamper or str(record.get("what", "unknown"))
        elif kind == "finish":
            records.exitstatus = int(record.get("exitstatus", -1))
            peak = record.get("peak_rss_kb")
            records.peak_rss_kb = int(peak) if isinstance(peak, int) else None
            stray = record.get("stray")
            records.stray = stray if isinstance(stray, int) else 0

    def _verified(self, line: str) -> dict[str, Any] | None:
        """The record on `line` when its MAC and sequence number check out, else None."""
        mac, _, body = line.partition(" ")
        if not body.lstrip().startswith("{"):
            mac, body = "", line  # no MAC at all
        try:
            record = json.loads(body)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            if self._loose_chars + len(line) < MAX_LOOSE_CHARS:
                self._loose.append(line + "\n")
                self._loose_chars += len(line) + 1
            else:
                self.records.forged += 1  # junk: the plugin and faulthandler write nothing like it
            return None
        expected = hmac.digest(self.key, body.encode("utf-8"), "sha256").hex()[:MAC_CHARS]
        if not hmac.compare_digest(mac.encode("utf-8"), expected.encode("ascii")) or record.get("seq") != self._sequence:
            self.records.forged += 1  # not written by our plugin, or replayed: ignore rather than trust
            return None
        return record


def _covers(collector_id: str, nodeid: str) -> bool:
    return collector_id == "" or nodeid == collector_id or nodeid.startswith(collector_id + "::")


def build_outcomes(
    records: RunRecords,
    reference_ids: list[str] | None,
    *,
    interrupted_test: str | None,
    interrupted_message: str,
    timeout_message: str,
    not_run_message: str,
) -> list[TestOutcome]:
    """One outcome per expected test; a test without a trustworthy result is an error.

    Expected tests are the ones this run collected plus, when known, the ones
    the original code collected: a candidate cannot pass by making tests vanish.
    Results for test ids nobody collected are ignored.
    """
    expected = list(records.collected or [])
    for nodeid in reference_ids or []:
        if nodeid not in expected:
            expected.append(nodeid)
    collected = set(records.collected or [])
    collection_finished = records.collected is not None and not records.internal_error

    outcomes = []
    for nodeid in expected:
        result = records.tests.get(nodeid)
        if result is not None and nodeid in collected:
            outcomes.append(_outcome_from_record(nodeid, result, timeout_message))
        elif nodeid == interrupted_test:
            outcomes.append(TestOutcome(nodeid, "failed", interrupted_message))
        else:
            reason = next((msg for cid, msg in records.collect_errors if _covers(cid, nodeid)), None)
            if reason is None and collection_finished and nodeid not in collected:
                reason = "not collected with this candidate"
            outcomes.append(TestOutcome(nodeid, "error", reason or not_run_message))
    if not expected:  # nothing collected at all: the collection errors are the outcomes
        outcomes = [TestOutcome(cid or "<session>", "error", msg) for cid, msg in records.collect_errors]
    return outcomes


def _outcome_from_record(nodeid: str, record: dict[str, Any], timeout_message: str) -> TestOutcome:
    outcome = str(record.get("outcome", "error"))
    if outcome not in ("passed", "failed", "error", "skipped"):
        outcome = "error"
    message = timeout_message if record.get("timed_out") else str(record.get("message", ""))
    duration = float(record.get("duration", 0.0) or 0.0)
    return TestOutcome(nodeid, outcome, message, duration)


def excused_skips(records: RunRecords) -> set[str]:
    """Tests skipped by a mark (skip/skipif/xfail), which do not count in the total."""
    return {nodeid for nodeid, r in records.tests.items() if r.get("outcome") == "skipped" and r.get("excused")}


def timed_out_tests(records: RunRecords) -> list[str]:
    return [nodeid for nodeid, r in records.tests.items() if r.get("timed_out")]


def call_times(records: RunRecords) -> tuple[float, float]:
    """(wall, cpu) seconds summed over the tests' call phases."""
    wall = sum(float(r.get("duration", 0.0) or 0.0) for r in records.tests.values())
    cpu = sum(float(r.get("cpu", 0.0) or 0.0) for r in records.tests.values())
    return wall, cpu
