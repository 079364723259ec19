"""Soak benchmark: many searches in one process, with real test execution.

Each search is what the CLI and the language server run (`engine.prepare` +
`engine.run`: a fresh sandbox executor on a copy of examples/slowmath), with a
scripted model whose candidates are good, wrong or hostile (an exit at import,
a detached process, forged results, threads that never end). Prints this
process's RSS, open descriptors and threads at the start and every 10
searches; exits 1 when, from the first checkpoint after warm-up to the last,
any grows beyond its bound, or when a process, a private directory or a pids
cgroup of the sandbox is left behind.

    python -m bench.soak [--searches 100] [--isolation auto|bwrap|netns|none]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from orps_lsp import engine
from orps_lsp.config import SearchConfig
from orps_lsp.executor import SandboxLimits
from orps_lsp.model.scripted import ScriptedModel
from orps_lsp.sandbox import isolation, pids

REPO = Path(__file__).resolve().parents[1]

# Growth allowed from the warm checkpoint (after 10 searches) to the end.
RSS_BOUND_MB = 24.0
FDS_BOUND = 2
THREADS_BOUND = 1

ANSWERS = [
    "    return len(set(items)) != len(items)\n```",  # good and fast
    "    return False\n```",  # wrong
    "    import os\n    os._exit(0)\n```",  # the test process dies
    # A detached grandchild that ignores SIGTERM: the executor must kill it.
    "    import os, signal, time\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
    "            signal.signal(signal.SIGTERM, signal.SIG_IGN)\n            time.sleep(600)\n        os._exit(0)\n"
    "    os.wait()\n    return len(set(items)) != len(items)\n```",
    # Forged result lines on every descriptor.
    '    import os\n    for fd in range(3, 1024):\n        try:\n            os.write(fd, b\'0 {"kind": "finish", "exitstatus": 0}\\n\')\n'
    "        except OSError:\n            pass\n    return False\n```",
    # Non-daemon threads: the process cannot exit.
    "    import threading, time\n    threading.Thread(target=lambda: time.sleep(600)).start()\n"
    "    return len(set(items)) != len(items)\n```",
]


def figures() -> tuple[float, int, int]:
    me = psutil.Process()
    return me.memory_info().rss / 2**20, me.num_fds(), threading.active_count()


def leftovers(scratch: Path) -> list[str]:
    problems = []
    children = [p for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    if children:
        problems.append(f"{len(children)} child process(es) alive")
    left = sorted(p.name for p in scratch.iterdir())
    if left:
        problems.append(f"private directories left: {left}")
    parent = pids._parent()
    if parent is not None:
        mine = list(parent.glob(f"orps-{os.getpid()}-*"))
        if mine:
            problems.append(f"pids cgroups left: {[p.name for p in mine]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=100)
    parser.add_argument("--isolation", default="auto")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="orps-soak-"))
    scratch = work / "tmp"  # the executors' private directories go here, and nowhere else
    scratch.mkdir()
    tempfile.tempdir = str(scratch)
    project = work / "slowmath"
    shutil.copytree(REPO / "examples" / "slowmath", project, ignore=shutil.ignore_patterns("__pycache__"))
    limits = SandboxLimits(per_test_timeout=5.0, total_timeout=30.0, isolation=args.isolation)
    config = SearchConfig(
        beam_width=1, expansions=2, depth=1, use_critic=False, finalists=1, timing_repeats=1, instruction_counter="none"
    )
    answer_numbers = iter(range(10**9))
    model = ScriptedModel(lambda messages, prefill: ANSWERS[next(answer_numbers) % len(ANSWERS)])
    request = engine.SearchRequest(
        file=project / "slowmath.py", function="has_duplicates", tests=["tests/test_duplicates.py"], limits=limits
    )

    print(f"isolation: {isolation.resolve(args.isolation).describe()}")
    print(f"{'searches':>8} {'RSS MiB':>8} {'fds':>5} {'threads':>7} {'s/search':>8}")
    rss, fds, threads = figures()
    print(f"{0:>8} {rss:>8.1f} {fds:>5} {threads:>7}")
    warm: tuple[float, int, int] | None = None
    started = time.perf_counter()
    outcomes: dict[str, int] = {}
    for number in range(1, args.searches + 1):
        report = engine.run(engine.prepare(request), model, config)
        for node in report.nodes:
            if node.execution is not None:
                key = (
                    "passed"
                    if not node.execution.error and node.execution.passed == node.execution.total
                    else (node.execution.error or "failed").split(":")[0].split("(")[0].strip()
                )
                outcomes[key] = outcomes.get(key, 0) + 1
        if number % 10 == 0:
            rss, fds, threads = figures()
            per_search = (time.perf_counter() - started) / number
            print(f"{number:>8} {rss:>8.1f} {fds:>5} {threads:>7} {per_search:>8.2f}", flush=True)
            if warm is None:
                warm = (rss, fds, threads)
    print("candidate outcomes:", ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    problems = leftovers(scratch)
    shutil.rmtree(work, ignore_errors=True)
    if warm is not None:
        rss, fds, threads = figures()
        growth = (rss - warm[0], fds - warm[1], threads - warm[2])
        print(
            f"growth since search 10: RSS {growth[0]:+.1f} MiB, fds {growth[1]:+d}, threads {growth[2]:+d} "
            f"(bounds {RSS_BOUND_MB:g} MiB, {FDS_BOUND}, {THREADS_BOUND})"
        )
        if growth[0] > RSS_BOUND_MB or growth[1] > FDS_BOUND or growth[2] > THREADS_BOUND:
            problems.append("growth beyond the bounds")
    for problem in problems:
        print(f"FAIL: {problem}")
    print("OK" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
