'''Hostile candidates that pass the tests and forge what measures them (issue: no faked speed).

Each case is a whole module in place of the example project's slowmath.py: its
has_duplicates gives the original's answers while doing twice the original's work, and
tries to make the figures say otherwise. tests/test_hostile_measurements.py runs each
next to the original in one executor and checks the figures it forged cannot lie
(a wide margin: the forgeries claim 100x to 1000x; the truth is 2x slower), or that
the run is refused as tampered with.
'''

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "slowmath" / "slowmath.py"

# The original's quadratic loop, twice: the same answers, twice the time.
TWICE = '''
def has_duplicates(items):
    """Return True if any value occurs more than once in `items`."""
    _original(items)
    return _original(items)


def _original(items):
    for i in range(len(items)):
        for j in range(len(items)):
            if i != j and items[i] == items[j]:
                return True
    return False
'''


@dataclass(frozen=True)
class Forgery:
    name: str
    source: str  # the module's prologue (before the original's other functions and TWICE)
    forges: str  # "time": the clocks; "memory": the peak; "tamper": the judge itself (refused)
    at_import: bool = True  # it acts when imported (refused as it is); else only once called
    function: str = ""  # its own has_duplicates, in place of the doubled one (which stays as _twice)


def module(forgery: Forgery) -> str:
    """The whole module: the prologue, the example's other functions, the doubled function."""
    rest = EXAMPLE.read_text().split("def has_duplicates", 1)
    others = "def fib" + rest[1].split("def fib", 1)[1]
    doubled = TWICE if not forgery.function else (
        TWICE.replace("def has_duplicates(", "def _twice(", 1) + "\n\n" + textwrap.dedent(forgery.function))
    return rest[0] + textwrap.dedent(forgery.source) + "\n\n" + others + "\n" + doubled


FORGERIES = [
    Forgery("clocks_slowed_at_import", """
        import time as _t
        _real_wall, _real_cpu = _t.perf_counter, _t.process_time
        _wall0, _cpu0 = _real_wall(), _real_cpu()
        _t.perf_counter = lambda: _wall0 + (_real_wall() - _wall0) / 400
        _t.process_time = lambda: _cpu0 + (_real_cpu() - _cpu0) / 400
        """, "time"),
    Forgery("clocks_slowed_from_the_first_call", """
        import time as _t

        def _slow_the_clocks():
            if getattr(_t, "_slowed", False):
                return
            real_wall, real_cpu = _t.perf_counter, _t.process_time
            wall0, cpu0 = real_wall(), real_cpu()
            _t.perf_counter = lambda: wall0 + (real_wall() - wall0) / 1000
            _t.process_time = lambda: cpu0 + (real_cpu() - cpu0) / 1000
            _t._slowed = True

        import builtins as _b
        _real_len = _b.len

        def _len(value):  # the clocks are slowed the first time the function measures anything
            _slow_the_clocks()
            return _real_len(value)

        len = _len
        """, "time", at_import=False),
    Forgery("clock_frozen_through_monotonic_aliases", """
        import time as _t
        _frozen = _t.perf_counter()
        for _name in ("perf_counter", "process_time", "monotonic", "time", "thread_time"):
            setattr(_t, _name, lambda: _frozen)
        for _name in ("perf_counter_ns", "process_time_ns", "monotonic_ns", "time_ns", "thread_time_ns"):
            setattr(_t, _name, lambda: int(_frozen * 1e9))
        """, "time"),
    Forgery("peak_memory_hidden_behind_open", """
        import builtins as _b
        import io as _io
        _real_open = _b.open
        _hoard = bytearray(300 * 1024 * 1024)  # 300 MiB, touched
        for _i in range(0, len(_hoard), 4096):
            _hoard[_i] = 1

        def _open(path, *args, **kwargs):
            if str(path).endswith("/status"):
                return _io.StringIO("Name:\\tpython\\nVmHWM:\\t    1024 kB\\nVmRSS:\\t    1024 kB\\n")
            return _real_open(path, *args, **kwargs)

        _b.open = _open
        _io.open = _open
        """, "memory"),
    # The doubled work done in a helper process the function forks once and then waits on:
    # the test process's CPU clock sees an eighth of it; the machine does all of it, and more.
    Forgery("work_offloaded_to_a_helper_process", """
        import os as _os
        import pickle as _pickle

        _HELPER = []
        """, "offload", at_import=False, function="""
        def has_duplicates(items):
            \"\"\"Return True if any value occurs more than once in `items`.\"\"\"
            if not _HELPER:
                requests, replies = _os.pipe(), _os.pipe()
                if _os.fork() == 0:
                    while True:
                        size = _os.read(requests[0], 8)
                        if len(size) < 8:
                            _os._exit(0)
                        data, wanted = b"", int.from_bytes(size, "big")
                        while len(data) < wanted:
                            data += _os.read(requests[0], wanted - len(data))
                        _os.write(replies[1], b"1" if _twice(_pickle.loads(data)) else b"0")
                _HELPER.extend([requests[1], replies[0]])
            data = _pickle.dumps(list(items))
            _os.write(_HELPER[0], len(data).to_bytes(8, "big") + data)
            _original(items[: len(items) // 2])  # a quarter of one pass here: a CPU time above the clock's step
            return _os.read(_HELPER[1], 1) == b"1"
        """),
    Forgery("the_benchmarks_clock_replaced", """
        import sys as _s
        _bench = _s.modules.get("orps_lsp.sandbox.benchmark")
        if _bench is not None:
            _real_ns = _bench._ns
            _bench._ns = lambda: _real_ns() // 1000
        """, "tamper"),
    Forgery("the_judges_clock_replaced", """
        import sys as _s
        _plugin = _s.modules.get("orps_lsp.sandbox.plugin")
        if _plugin is not None:
            for _name in dir(_plugin):
                if "clock" in _name:
                    setattr(_plugin, _name, lambda: 0.0)
        """, "tamper"),
]
