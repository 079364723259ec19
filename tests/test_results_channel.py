"""The results channel's reader (sandbox/results.py) against what a candidate can write on it."""

from __future__ import annotations

import hmac
import json

from orps_lsp.sandbox.protocol import MAC_CHARS
from orps_lsp.sandbox.results import MAX_LOOSE_CHARS, WATCHDOG_MARK, RecordReader

KEY = "0f" * 16


def signed(record: dict) -> str:
    body = json.dumps(record)
    return hmac.digest(KEY.encode(), body.encode(), "sha256").hex()[:MAC_CHARS] + " " + body


def test_junk_lines_are_flagged_and_bounded_and_a_real_dump_is_kept(tmp_path):
    """faulthandler's dump is kept for the output tail; megabytes of junk lines after it are
    counted as forged (the run is not trusted) and not kept, and a record still counts."""
    channel = tmp_path / "run.results"
    dump = f'{WATCHDOG_MARK}0:00:05)!\nThread 0x00007f (most recent call first):\n  File "t.py", line 3 in test\n'
    junk = "".join(f"not a record {i}\n" for i in range(300_000))  # ~6 MB
    channel.write_text(signed({"kind": "start", "nodeid": "t.py::test", "time": 0.0, "seq": 0}) + "\n" + dump + junk)
    reader = RecordReader(channel, KEY)
    records = reader.finish()
    assert records.watchdog_fired and records.watchdog_text.startswith(WATCHDOG_MARK)
    assert len(records.watchdog_text) <= MAX_LOOSE_CHARS
    assert records.forged > 200_000  # the junk, flagged: such a run is not trusted
    assert "t.py::test" in records.started


def test_a_line_that_never_ends_is_read_once(tmp_path):
    """A candidate writing one endless line in small pieces: each poll adds its piece, and
    the line, once finished, is judged once (junk: forged)."""
    channel = tmp_path / "run.results"
    reader = RecordReader(channel, KEY)
    with open(channel, "w") as stream:
        for _ in range(50):
            stream.write("x" * 10_000)
            stream.flush()
            reader.poll()
        stream.write("\n")
    records = reader.finish()
    assert records.forged == 1 and not records.tests


def test_records_split_across_polls_are_read_whole(tmp_path):
    channel = tmp_path / "run.results"
    reader = RecordReader(channel, KEY)
    lines = [signed({"kind": "start", "nodeid": f"t.py::test_{i}", "time": 0.0, "seq": i}) + "\n" for i in range(3)]
    text = "".join(lines)
    with open(channel, "w") as stream:
        for cut in (5, len(lines[0]), len(lines[0]) + 7, len(text) - 1, len(text)):
            stream.write(text[stream.tell() : cut])
            stream.flush()
            reader.poll()
    records = reader.finish()
    assert records.forged == 0 and sorted(records.started) == [f"t.py::test_{i}" for i in range(3)]
