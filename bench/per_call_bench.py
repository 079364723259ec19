"""The per-call benchmark against a plain timeit, and what measuring costs a search.

Part 1, pairs: for a few original/rewrite pairs (microseconds to milliseconds per call, and a
copy of the original reformatted), the product's per-call speed-up and its 95% interval
(sandbox/benchmark.py, in the sandbox, on the calls the tests make) beside a plain `timeit`
of the same calls in this process, interleaved the same way (the median of nine rounds'
ratios). Printed side by side from one run: the two figures, their ratio, the interval's
width.

Part 2, cost (with --search): one search of the example's function with the embedded model
through the CLI, for each source tree given (the current one, and e.g. a worktree of an
earlier commit with --before DIR): the share of its wall time spent evaluating (sandboxed
runs, benchmarks, counts) and the verdict.

    python -m bench.per_call_bench [--seconds 3] [--search] [--before DIR] [--function has_duplicates]

One job at a time: anything running beside it spoils both figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import timeit
from dataclasses import dataclass
from pathlib import Path

from orps_lsp.discovery import discover_tests
from orps_lsp.executor import ExecutionTarget, SandboxLimits
from orps_lsp.sandbox.executor import PytestExecutor

REPO = Path(__file__).resolve().parents[1]
LIMITS = SandboxLimits(per_test_timeout=20, total_timeout=120, memory_mb=2048, cpu_seconds=120)


@dataclass
class Pair:
    name: str
    function: str
    original: str
    candidate: str
    inputs: str  # a Python expression: the list of argument tuples the tests call it with


PAIRS = [
    Pair(
        "sum loop -> sum()",
        "total",
        "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n",
        "def total(xs):\n    return sum(xs)\n",
        "[([1, 2, 3],), (list(range(10)),), (list(range(40)),), (list(range(80)),)]",
    ),
    Pair(
        "reformatted copy",
        "total",
        "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n",
        "def total(values):\n    acc = 0\n    for v in values:\n        acc = acc + v\n    return acc\n",
        "[([1, 2, 3],), (list(range(10)),), (list(range(40)),), (list(range(80)),)]",
    ),
    Pair(
        "pairwise -> set",
        "has_duplicates",
        "def has_duplicates(items):\n    for i in range(len(items)):\n        for j in range(i + 1, len(items)):\n"
        "            if items[i] == items[j]:\n                return True\n    return False\n",
        "def has_duplicates(items):\n    return len(set(items)) != len(items)\n",
        "[(list(range(50)),), (list(range(200)),), ([3, 1, 3],), (list(range(120)) + [7],)]",
    ),
    Pair(
        "string += -> join",
        "render",
        "def render(xs):\n    out = ''\n    for x in xs:\n        out += str(x) + ','\n    return out\n",
        "def render(xs):\n    return ''.join([f'{x},' for x in xs])\n",
        "[(list(range(5)),), (list(range(100)),), (list(range(1000)),)]",
    ),
    Pair(
        "sorted()[0] -> min()",
        "smallest",
        "def smallest(xs):\n    return sorted(xs)[0]\n",
        "def smallest(xs):\n    return min(xs)\n",
        "[(list(range(300, 0, -1)),), (list(range(2000)),), ([5, 3, 9],)]",
    ),
]


def reference(pair: Pair) -> float:
    """timeit of the same calls in this process, interleaved: the median of nine rounds' ratios."""
    inputs = eval(pair.inputs)  # noqa: S307 - the benchmark's own literal
    namespace: dict = {}
    exec(pair.original, namespace)  # noqa: S102 - the benchmark's own code
    slow = namespace[pair.function]
    exec(pair.candidate, namespace)  # noqa: S102
    fast = namespace[pair.function]

    def run(function):
        return lambda: [function(*args) for args in inputs]

    number = max(1, int(0.05 / max(timeit.timeit(run(slow), number=1), 1e-7)))
    ratios = [timeit.timeit(run(slow), number=number) / timeit.timeit(run(fast), number=number) for _ in range(9)]
    return statistics.median(ratios)


def product(pair: Pair, seconds: float, folder: Path):
    (folder / "mod.py").write_text(pair.original)
    (folder / "test_mod.py").write_text(
        textwrap.dedent(f"""\
        from mod import {pair.function}

        def test_calls():
            for args in {pair.inputs}:
                {pair.function}(*args)
        """)
    )
    file = folder / "mod.py"
    target = ExecutionTarget(
        project_root=folder, file=file, function=pair.function, limits=LIMITS, tests=discover_tests(folder, file, pair.function)
    )
    with PytestExecutor(target) as executor:
        original = executor.run(pair.original)
        if not (original.capture and original.capture.usable):
            raise SystemExit(f"{pair.name}: no calls captured")
        return executor.benchmark(pair.candidate, seconds=seconds)


def pairs(seconds: float) -> None:
    print(f"Per-call speed-up, the product (sandbox, {seconds:g} s each) vs timeit (this process, interleaved)")
    print(f"{'pair':24} {'product':>9} {'95% CI':>15} {'width':>7} {'timeit':>8} {'ratio':>6} {'rounds':>6} {'spent':>6}")
    for pair in PAIRS:
        with tempfile.TemporaryDirectory() as folder:
            bench = product(pair, seconds, Path(folder))
        plain = reference(pair)
        if bench is None or bench.speedup is None:
            print(f"{pair.name:24} no figure: {bench.note if bench else 'no calls'}")
            continue
        width = (bench.high - bench.low) / bench.speedup
        print(
            f"{pair.name:24} {bench.speedup:8.2f}x {bench.low:6.2f}-{bench.high:5.2f}x {width:6.1%} {plain:7.2f}x "
            f"{bench.speedup / plain:6.2f} {bench.rounds:6d} {bench.seconds:5.2f}s"
        )


def search(tree: Path, function: str) -> dict:
    """One CLI search of the example with the embedded model, from the source tree `tree`."""
    example = REPO / "examples" / "slowmath"
    env = {**os.environ, "PYTHONPATH": str(tree / "server")}
    result = subprocess.run(
        [sys.executable, "-m", "orps_lsp.cli", "optimize", f"slowmath.py::{function}", "--json", "--quiet", "--seed", "1"],
        cwd=example,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"the search from {tree} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout)


def cost(trees: list[tuple[str, Path]], function: str) -> None:
    print(f"\nShare of a search's wall time spent evaluating (examples/slowmath {function}, embedded model)")
    for label, tree in trees:
        report = search(tree, function)
        stats = report["stats"]
        share = stats["evaluation_seconds"] / stats["wall_seconds"]
        print(
            f"{label:8} wall {stats['wall_seconds']:6.1f} s, evaluating {stats['evaluation_seconds']:6.1f} s "
            f"({share:.0%}), {stats['candidates_executed']} candidates run; {report['verdict'][:150]}"
        )
        breakdown = stats.get("evaluation_breakdown") or {}  # trees from before it was kept have none
        if breakdown:
            print(
                " " * 9
                + ", ".join(
                    f"{what} {seconds / stats['wall_seconds']:.1%}"
                    for what, seconds in sorted(breakdown.items(), key=lambda item: -item[1])
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.per_call_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="the product's benchmark time per pair")
    parser.add_argument("--search", action="store_true", help="also measure a search's cost (minutes)")
    parser.add_argument("--before", type=Path, help="a source tree to compare with (e.g. a worktree of an older commit)")
    parser.add_argument("--function", default="has_duplicates")
    args = parser.parse_args()
    pairs(args.seconds)
    if args.search:
        trees = ([("before", args.before.resolve())] if args.before else []) + [("now", REPO)]
        cost(trees, args.function)


if __name__ == "__main__":
    main()
