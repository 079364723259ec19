"""Counting the instructions a run executes: perf when the CPU exposes it, else valgrind.

perf is cheap but needs hardware counters, which VMs often hide ("<not
supported>"); cachegrind works anywhere but runs the program 20-50x slower.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from .untrusted import Untrusted, read_regular

_VALGRIND_TOTAL = re.compile(r"I\s+refs:\s+([\d,]+)")


@functools.cache
def available_counter() -> str:
    """ "perf", "valgrind" or "none"; probed once per process."""
    perf = shutil.which("perf")
    if perf:
        try:
            probe = subprocess.run(
                [perf, "stat", "-x,", "-e", "instructions:u", "--", "true"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if _parse_perf_text(probe.stderr) is not None:
                return "perf"
        except (OSError, subprocess.SubprocessError):
            pass
    return "valgrind" if shutil.which("valgrind") else "none"


def command_prefix(counter: str, output: Path) -> list[str]:
    """What goes before the interpreter to count its instructions into `output`."""
    if counter == "perf":
        return [str(shutil.which("perf")), "stat", "-x,", "-e", "instructions:u", "-o", str(output), "--"]
    if counter == "valgrind":
        return [
            str(shutil.which("valgrind")),
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            f"--log-file={output}",
        ]
    raise ValueError(f"no command for counter {counter!r}")


def read_count(counter: str, output: Path) -> int | None:
    try:  # the counter's output file lies in the run's directory: never a FIFO or a link
        text = read_regular(output, 1 << 20).decode("utf-8", "replace")
    except (OSError, Untrusted):
        return None
    if counter == "perf":
        return _parse_perf_text(text)
    match = _VALGRIND_TOTAL.search(text)
    return int(match.group(1).replace(",", "")) if match else None


def _parse_perf_text(text: str) -> int | None:
    """The count from `perf stat -x,` output ("123456,,instructions:u,..."), None if unsupported."""
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("instructions") and fields[0].strip().isdigit():
            return int(fields[0])
    return None
