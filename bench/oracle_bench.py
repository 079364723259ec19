"""What the oracle costs (the original's calls captured, inputs drawn from them, both
replayed on each candidate).

On the example project (or a file and function you name), with the real sandbox, one
executor, runs interleaved so that the machine's load falls on all alike:
  - the original's capture run and its run on the generated inputs vs its plain run
    (paid once per search), and the time Hypothesis takes to draw the inputs;
  - a candidate's run with the captured calls replayed, and with the generated inputs
    too, vs the same run without either (paid per candidate);
  - how many calls were captured and kept, how many generated inputs judge;
  - CrossHair's search on the candidate, with its confirming runs (paid once per offer).
Goal (issue 13): under 0.5 s per candidate with the warm worker.

    python -m bench.oracle_bench [--rounds 7] [--file examples/slowmath/slowmath.py --function has_duplicates]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from orps_lsp.discovery import discover_tests
from orps_lsp.executor import ExecutionTarget
from orps_lsp.sandbox import capture
from orps_lsp.sandbox.executor import PytestExecutor
from orps_lsp.sandbox.launch import Mode
from orps_lsp.sandbox.generate import draw_inputs
from orps_lsp.sandbox.protocol import replay_plan
from orps_lsp.source import replace_function

REPO = Path(__file__).resolve().parents[1]

FAST = "def has_duplicates(items):\n    return len(set(items)) != len(items)\n"


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.oracle_bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", default=str(REPO / "examples" / "slowmath" / "slowmath.py"))
    parser.add_argument("--function", default="has_duplicates")
    parser.add_argument("--candidate", help="a file holding the candidate module (default: a set-based has_duplicates)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    file = Path(args.file).resolve()
    root = file.parent
    source = file.read_text()
    candidate = Path(args.candidate).read_text() if args.candidate else replace_function(source, args.function, [], FAST)
    target = ExecutionTarget(
        project_root=root, file=file, function=args.function, tests=discover_tests(root, file, args.function)
    )
    with PytestExecutor(target) as executor:
        original = executor.run(source)  # the baseline, with the capture and the generated inputs
        oracle = executor._oracle
        print(f"runs: {executor.describe_isolation()}")
        print(f"oracle: {original.capture.describe()}")
        epilogue = source + capture.EPILOGUE.format(function=args.function)
        drawn = draw_inputs(oracle.shapes, target.oracle.generated_inputs, target.oracle.seed).inputs
        on_drawn = replay_plan(oracle.blobs, drawn, rounds=2, bases_only=True)
        calls_only = replay_plan(oracle.blobs, [])
        times: dict[str, list[float]] = {name: [] for name in ROWS}
        crossed: list = []
        for _ in range(args.rounds):
            times["plain"].append(timed(lambda: executor._runner.launch(source, Mode.PLAIN)))
            times["capture"].append(timed(lambda: executor._runner.launch(epilogue, Mode.PLAIN, capture=True)))
            times["draw"].append(timed(lambda: draw_inputs(oracle.shapes, target.oracle.generated_inputs, target.oracle.seed)))
            times["on_drawn"].append(timed(lambda: executor._runner.launch(source, Mode.PLAIN, replay=on_drawn)))
            times["without"].append(timed(lambda: executor._runner.launch(candidate, Mode.PLAIN)))
            times["calls"].append(timed(lambda: executor._runner.launch(candidate, Mode.PLAIN, replay=calls_only)))
            times["all"].append(timed(lambda: executor._runner.launch(candidate, Mode.PLAIN, replay=oracle.plan())))
            times["crosshair"].append(timed(lambda: crossed.append(executor.cross_check(candidate))))
        check = executor.run(candidate)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"candidate: {check.behaviour.describe() if check.behaviour else 'not replayed'}")
    print(f"CrossHair: {crossed[-1]}")
    print(f"(medians of {args.rounds} rounds)")
    once = median["capture"] + median["draw"] + median["on_drawn"]
    for name, label in ROWS.items():
        extra = ""
        if name in ("capture", "on_drawn"):
            extra = f"  ({median[name] / median['plain']:.2f}x a plain run; once per search)"
        elif name == "crosshair":
            extra = f"  ({target.oracle.crosshair_seconds:g} s of search; once per offer)"
        elif name in ("calls", "all"):
            extra = (
                f"  (+{(median[name] - median['without']) * 1000:.1f} ms per candidate, "
                f"ratio {median[name] / median['without']:.2f})"
            )
        print(f"{label:<44}: {median[name] * 1000:8.1f} ms{extra}")
    print(f"{'once per search (capture + draw + original)':<44}: {once * 1000:8.1f} ms")


ROWS = {
    "plain": "original, plain run",
    "capture": "original, capture run",
    "draw": "drawing the inputs (Hypothesis, server)",
    "on_drawn": "original on the generated inputs (twice)",
    "without": "candidate, no replay",
    "calls": "candidate, captured calls replayed",
    "all": "candidate, captured calls + generated inputs",
    "crosshair": "CrossHair on the candidate, confirmed by runs",
}


if __name__ == "__main__":
    main()
