"""Quality benchmark: does ORPS beat plain sampling with the same model?

    .venv/bin/python -m bench.quality.run                 # the committed slice: 30 write + 10 optimize tasks
    .venv/bin/python -m bench.quality.run --tasks 4 --methods cot,orps   # a quick look

(from the repository root).

Each task becomes a tiny project on disk (solution.py + tests/test_visible.py)
and goes through the engine exactly as a user's project does (engine.prepare +
engine.run, the real sandbox). The result is then scored on tests the tool
never saw (and, for optimize tasks, timed against the original and the ENAMEL
expert in one sitting). Results are cached per (task, method, model, settings)
under --out/cache, so an interrupted run continues where it stopped; the
summary (results.json, results.md, plots) is rewritten from the cache at the end.
The cache stays on this machine (git ignores it); the summary is what is kept,
and results.json holds every record the tables were drawn from.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from importlib.util import find_spec
from pathlib import Path

from orps_lsp import engine
from orps_lsp.executor import ExecutionTarget, SandboxLimits, TestSelection

from .methods import METHODS, PARALLEL, SEARCH_LIMITS, cache_path, config_for
from .tasks import MODULE, Task, load_or_build, write_project

TIMING_REPEATS = 3
_model = None  # one per worker process


def _load(model_spec: str | None, threads: int | None):
    global _model
    if _model is None:
        from orps_lsp.model.loader import load_model

        _model = load_model(model_spec, n_threads=threads, max_parallel=PARALLEL)
    return _model


# ---------------------------------------------------------------- evaluation
# Scoring runs: a held-back test takes milliseconds (5 s each, 60 s a run, cut off endless loops); a timing
# test takes the original at most ~2 s (10 s each: a result up to ~5x slower still counts as correct).
HIDDEN_LIMITS = SandboxLimits(per_test_timeout=5.0, total_timeout=60.0)
TIMING_LIMITS = SandboxLimits(per_test_timeout=10.0, total_timeout=120.0)


def _executor(root: Path, test_file: str, limits: SandboxLimits):
    from orps_lsp.sandbox.executor import PytestExecutor

    target = ExecutionTarget(
        project_root=root,
        file=root / f"{MODULE}.py",
        function="",
        tests=TestSelection([Path("tests") / test_file]),
        limits=limits,
    )
    return PytestExecutor(target)


def hidden_score(task: Task, module: str, work: Path) -> dict:
    """Held-back tests on the original and on the result (same sandbox as the search)."""
    root = work / "hidden"
    write_project(root, task.source, {"test_hidden.py": task.hidden_tests})
    with _executor(root, "test_hidden.py", HIDDEN_LIMITS) as executor:
        original = executor.run(task.source)
        result = original if module == task.source else executor.run(module)
    regressed = sorted(original.passed_ids() - result.passed_ids())
    return {
        "passed": result.passed,
        "total": result.total,
        "original_passed": original.passed,
        "regressed_tests": len(regressed),
        "error": result.error[:200],
    }


def timing(task: Task, module: str, work: Path) -> dict:
    """CPU seconds of the original, the expert and the result on the hidden timing inputs, measured together."""
    root = work / "timing"
    write_project(root, task.source, {"test_timing.py": task.timing_tests})
    out = {}
    with _executor(root, "test_timing.py", TIMING_LIMITS) as executor:
        for name, source in (("original", task.source), ("expert", task.expert), ("result", module)):
            report = executor.run(source, repeats=TIMING_REPEATS)
            ok = report.total > 0 and report.passed == report.total
            out[name] = report.cpu_time if ok else None
            if name == "result":
                out["result_correct"] = ok
    if out.get("result") and out.get("original"):
        out["speedup_vs_original"] = out["original"] / out["result"]
    if out.get("result") and out.get("expert"):
        out["time_vs_expert"] = out["result"] / out["expert"]
    return out


# -------------------------------------------------------------------- one run
def run_one(task: Task, method: str, model_spec: str | None, threads: int | None) -> dict:
    model = _load(model_spec, threads)
    config = config_for(method)
    with tempfile.TemporaryDirectory(prefix=f"orps-bench-{task.slug}-") as tmp:
        work = Path(tmp)
        file = write_project(work / "project", task.source, {"test_visible.py": task.visible_tests})
        request = engine.SearchRequest(
            file=file,
            function=task.function,
            mode="solve" if task.kind == "write" else "optimize",
            project_root=work / "project",
            limits=SEARCH_LIMITS,
        )
        started = time.perf_counter()
        try:
            prepared = engine.prepare(request, no_tests=config.no_tests)
            report = engine.run(prepared, model, config)
        except Exception as exc:  # a broken task or an engine bug: recorded, the run goes on
            return {"task": task.id, "method": method, "error": f"{type(exc).__name__}: {exc}"[:300]}
        wall = time.perf_counter() - started
        offered = report.best_id is not None and report.new_source is not None
        module = report.new_source if offered else task.source
        record = {
            "task": task.id,
            "kind": task.kind,
            "set": task.info.get("set"),
            "method": method,
            "model": report.model,
            "offered": offered,
            "verdict": report.verdict,
            "stopped_by": report.stats.stopped_by,
            "llm_calls": report.stats.llm_calls,
            "generated_tokens": report.stats.generated_tokens,
            "prompt_tokens_sent": report.stats.prompt_tokens_sent,
            "prompt_tokens_evaluated": report.stats.prompt_tokens_evaluated,
            "candidates": len(report.nodes),
            "wall_seconds": round(wall, 2),
            # The original is the oracle (optimize): candidates that passed the tests and were refused on
            # the original's captured calls, or (alike on those) on the inputs drawn from them.
            "refused_by_replay": sum(
                1 for n in report.nodes if n.execution and n.execution.behaviour and n.execution.behaviour.different
            ),
            "refused_by_generated": sum(
                1
                for n in report.nodes
                if n.execution
                and n.execution.behaviour
                and not n.execution.behaviour.different
                and n.execution.behaviour.generated_different
            ),
            "replayed": sum(1 for n in report.nodes if n.execution and n.execution.behaviour),
            "seconds": {
                "prompt": round(report.stats.prompt_seconds, 1),
                "generation": round(report.stats.generation_seconds, 1),
                "tests": round(report.stats.evaluation_seconds, 1),
                "evaluation": {what: round(seconds, 1) for what, seconds in report.stats.evaluation_breakdown.items()},
            },
            # The candidates timed per call, fastest first (their code too): what the final pick weighed.
            "per_call": sorted(
                (
                    {
                        "node": n.id,
                        "speedup": n.execution.per_call.speedup,
                        "figure": n.execution.per_call.describe(),
                        "alone": n.execution.per_call.alone_note,
                        "code": n.code,
                    }
                    for n in report.nodes
                    if n.execution and n.execution.per_call
                ),
                key=lambda entry: -(entry["speedup"] or 0.0),
            )[:3],
            "visible": {"passed": report.best.execution.passed, "total": report.best.execution.total}
            if offered and report.best.execution
            else None,
        }
        record["hidden"] = hidden_score(task, module, work)
        record["hidden_pass_ratio"] = record["hidden"]["passed"] / record["hidden"]["total"] if record["hidden"]["total"] else 0.0
        record["solved"] = record["hidden"]["total"] > 0 and record["hidden"]["passed"] == record["hidden"]["total"]
        if task.kind == "optimize":
            record["timing"] = timing(task, module, work)
            t = record["timing"]
            slower = offered and t.get("speedup_vs_original") is not None and t["speedup_vs_original"] < 1 / 1.05
            failing = offered and (record["hidden"]["regressed_tests"] > 0 or not t.get("result_correct"))
            record["bad_offer"] = bool(slower or failing)
            # Against the original, as the product's guard is: some slow originals run out of the held-back tests' limits.
            record["solved"] = (
                record["hidden"]["total"] > 0 and record["hidden"]["regressed_tests"] == 0 and bool(t.get("result_correct"))
            )
        else:
            record["bad_offer"] = bool(offered and record["hidden"]["regressed_tests"] > 0)
        return record


# ------------------------------------------------------------------------ main
def interleaved(tasks: list[Task]) -> list[Task]:
    """One task of each set in turn, so that a run stopped part-way has a balanced sample."""
    by_set: dict[str, list[Task]] = {}
    for task in tasks:
        by_set.setdefault(task.info.get("set", task.kind), []).append(task)
    order = []
    for index in range(max((len(v) for v in by_set.values()), default=0)):
        order += [group[index] for group in by_set.values() if index < len(group)]
    return order


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--write-per-set", type=int, default=10, help="write tasks from each of LBPP, HumanEval+, MBPP+ (default 10)"
    )
    parser.add_argument("--optimize", type=int, default=10, help="ENAMEL optimize tasks (default 10)")
    parser.add_argument("--kinds", default="write,optimize", help="which kinds of task to run (default both)")
    parser.add_argument("--tasks", type=int, default=None, help="run only the first N tasks of each kind (a quick look)")
    parser.add_argument(
        "--methods", default="cot,orps,best_of_n,reflexion,orps_no_exec", help=f"comma-separated, from {', '.join(METHODS)}"
    )
    parser.add_argument("--model", default=None, help="GGUF path or embedded name (default: the embedded 0.5B model)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="worker processes, each with its own model (default 1; 2 cores fit one)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/quality"), help="results folder (cache inside)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for method in methods:
        config_for(method)  # unknown names stop here
    if find_spec("matplotlib") is None:  # said now, not after hours of searching
        print("bench/quality draws its plots with matplotlib: .venv/bin/python -m pip install -e '.[bench]'", file=sys.stderr)
        return 2
    tasks = load_or_build(args.out.parent / "tasks.json", args.write_per_set, args.optimize, args.seed)
    if args.tasks:
        tasks = [t for t in tasks if t.kind == "write"][: args.tasks] + [t for t in tasks if t.kind == "optimize"][: args.tasks]
    tasks = [t for t in tasks if t.kind in args.kinds.split(",")]
    from orps_lsp.model.embedded import DEFAULT_MODEL

    model_name = Path(args.model).name if args.model else DEFAULT_MODEL
    cache = args.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    todo = []
    # Method by method (in --methods order), the tasks interleaved across sets: a run stopped part-way
    # has whole methods over a balanced sample, the cheap baseline and ORPS first.
    for method in methods:
        for task in interleaved(tasks):
            path = cache_path(cache, task, method, model_name)
            if not path.exists():
                todo.append((task, method, path))
    print(
        f"{len(tasks)} tasks x {len(methods)} methods: {len(tasks) * len(methods) - len(todo)} cached, {len(todo)} to run",
        flush=True,
    )
    threads = max(1, (os.cpu_count() or 2) // args.jobs)
    started = time.perf_counter()
    done = 0

    def save(path: Path, record: dict) -> None:
        nonlocal done
        done += 1
        if "error" not in record:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record, indent=1))
            tmp.replace(path)  # a killed run never leaves half a record
        elapsed = time.perf_counter() - started
        status = (
            record.get("error")
            or f"{'solved' if record.get('solved') else 'not solved'}, {record.get('llm_calls')} calls, {record.get('wall_seconds')} s"
        )
        print(f"[{done}/{len(todo)} {elapsed / 60:.1f} min] {record['task']} {record['method']}: {status}", flush=True)

    if args.jobs <= 1:
        for task, method, path in todo:
            save(path, run_one(task, method, args.model, None))
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(run_one, task, method, args.model, threads): path for task, method, path in todo}
            for future in as_completed(futures):
                save(futures[future], future.result())

    from .summarize import summarize

    summarize(tasks, methods, model_name, cache, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
