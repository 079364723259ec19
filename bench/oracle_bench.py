"""What the oracle costs (the original's calls captured, replayed on each candidate).

On the example project (or a file and function you name), with the real sandbox, one
executor, runs interleaved so that the machine's load falls on both alike:
  - the original's capture run vs its plain run (paid once per search);
  - a candidate's run with the replay vs the same run without it (paid per candidate);
  - how many calls were captured and kept.
Goal (issue 13): under 0.5 s per candidate with the warm worker.

    python bench/oracle_bench.py [--rounds 7] [--file examples/slowmath/slowmath.py --function has_duplicates]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "server"))

from orps_lsp.discovery import discover_tests  # noqa: E402
from orps_lsp.executor import ExecutionTarget  # noqa: E402
from orps_lsp.sandbox import capture  # noqa: E402
from orps_lsp.sandbox.executor import PytestExecutor, _Mode  # noqa: E402
from orps_lsp.source import find_function, replace_function  # noqa: E402

FAST = "def has_duplicates(items):\n    return len(set(items)) != len(items)\n"


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default=str(REPO / "examples" / "slowmath" / "slowmath.py"))
    parser.add_argument("--function", default="has_duplicates")
    parser.add_argument("--candidate", help="a file holding the candidate module (default: a set-based has_duplicates)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    file = Path(args.file).resolve()
    root = file.parent
    source = file.read_text()
    candidate = Path(args.candidate).read_text() if args.candidate else \
        replace_function(source, find_function(source, args.function), FAST)
    target = ExecutionTarget(project_root=root, file=file, function=args.function,
                             tests=discover_tests(root, file, args.function))
    with PytestExecutor(target) as executor:
        original = executor.run(source)  # the baseline, with the capture
        oracle = executor._oracle
        print(f"runs: {executor.describe_isolation()}")
        print(f"oracle: {original.capture.describe()}")
        epilogue = source + capture.EPILOGUE.format(function=args.function)
        plain, captured, without, replayed = [], [], [], []
        for _ in range(args.rounds):
            plain.append(timed(lambda: executor._launch(source, _Mode.PLAIN)))
            captured.append(timed(lambda: executor._launch(epilogue, _Mode.PLAIN, capture=True)))
            without.append(timed(lambda: executor._launch(candidate, _Mode.PLAIN)))
            replayed.append(timed(lambda: executor._launch(candidate, _Mode.PLAIN, replay=oracle.blobs)))
        check = executor.run(candidate)
    median = statistics.median
    print(f"candidate: {check.behaviour.describe() if check.behaviour else 'not replayed'}")
    print(f"original, plain run     : {median(plain) * 1000:8.1f} ms (median of {args.rounds})")
    print(f"original, capture run   : {median(captured) * 1000:8.1f} ms  (one extra run per search, "
          f"{median(captured) / median(plain):.2f}x a plain run)")
    print(f"candidate, no replay    : {median(without) * 1000:8.1f} ms")
    print(f"candidate, with replay  : {median(replayed) * 1000:8.1f} ms  (+{(median(replayed) - median(without)) * 1000:.1f} ms per candidate, "
          f"ratio {median(replayed) / median(without):.2f})")


if __name__ == "__main__":
    main()
