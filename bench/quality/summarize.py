"""Tables and plots from the cached per-task results: results.json, results.md, *.png.

    .venv/bin/python -m bench.quality.summarize [OUT]   # rewrite the summary from OUT/cache alone (default bench/results/quality)

The cache (OUT/cache, one JSON file per task and method) is local: git ignores it,
and only the summary it gives (results.json with every record, results.md, the
plots) is kept. Without the cache, the summary cannot be rewritten here: run
`python -m bench.quality.run` again (with the same --out) to fill it.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import sys
from pathlib import Path

from .methods import LABELS, METHODS, cache_path


def _geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def load_records(cache: Path, tasks, methods: list[str], model_name: str) -> list[dict]:
    """The results of these tasks and methods under the current settings (older settings' files are ignored)."""
    records = []
    for method in methods:
        for task in tasks:
            path = cache_path(cache, task, method, model_name)
            if path.exists():
                records.append(json.loads(path.read_text()))
    return records


def optimize_correct(record: dict) -> bool:
    """The result passes every held-back test the original passes, and gives the original's answers on
    the timing inputs. (Some slow originals run out of the held-back tests' time limits themselves.)"""
    hidden, timing = record["hidden"], record.get("timing") or {}
    return hidden["total"] > 0 and hidden["regressed_tests"] == 0 and bool(timing.get("result_correct"))


def method_summary(records: list[dict]) -> dict:
    write = [r for r in records if r["kind"] == "write"]
    optimize = [r for r in records if r["kind"] == "optimize"]
    correct_opt = [r for r in optimize if optimize_correct(r)]
    speedups = [r["timing"]["speedup_vs_original"] for r in correct_opt if r["timing"].get("speedup_vs_original")]
    vs_expert = [r["timing"]["time_vs_expert"] for r in correct_opt if r["timing"].get("time_vs_expert")]
    summary = {
        "tasks": len(records),
        "write_tasks": len(write),
        "pass_at_1": _mean([float(r["solved"]) for r in write]),
        "hidden_pass_ratio": _mean([r["hidden_pass_ratio"] for r in write]),
        "by_set": {s: _mean([float(r["solved"]) for r in write if r["set"] == s]) for s in sorted({r["set"] for r in write})},
        "optimize_tasks": len(optimize),
        "optimize_correct": _mean([float(optimize_correct(r)) for r in optimize]),
        "optimize_offered": _mean([float(r["offered"]) for r in optimize]),
        "speedup_median": _median(speedups),
        "speedup_geomean": _geomean(speedups),
        "vs_expert_median": _median(vs_expert),
        "vs_expert_geomean": _geomean(vs_expert),
        "bad_offers": sum(1 for r in records if r["bad_offer"]),
        "offered": sum(1 for r in records if r["offered"]),
        "llm_calls_mean": _mean([r["llm_calls"] for r in records]),
        "generated_tokens_mean": _mean([r["generated_tokens"] for r in records]),
        "wall_seconds_mean": _mean([r["wall_seconds"] for r in records]),
        "wall_seconds_total": sum(r["wall_seconds"] for r in records),
        # The share of the searches' wall time spent evaluating (test runs, benchmarks, CrossHair).
        "evaluation_share": _ratio(
            sum(r.get("seconds", {}).get("tests", 0.0) for r in records), sum(r["wall_seconds"] for r in records)
        ),
        # ... and by what it was spent on (records from before the breakdown have none).
        "evaluation_by_measure": _by_measure(records),
        # Of the candidates compared with the original (optimize), the share each oracle refused
        # (records from before the oracle have no counts: None).
        "replayed": sum(r.get("replayed", 0) for r in records),
        "refused_by_replay": _share(records, "refused_by_replay"),
        "refused_by_generated": _share(records, "refused_by_generated"),
    }
    return summary


def _by_measure(records: list[dict]) -> dict[str, float]:
    """Each measure's share of the searches' wall time (test runs, benchmarks, CrossHair, ...)."""
    wall = sum(r["wall_seconds"] for r in records)
    spent: dict[str, float] = {}
    for record in records:
        for what, seconds in record.get("seconds", {}).get("evaluation", {}).items():
            spent[what] = spent.get(what, 0.0) + seconds
    return {what: seconds / wall for what, seconds in spent.items()} if wall else {}


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _share(records: list[dict], key: str) -> float | None:
    compared = sum(r.get("replayed", 0) for r in records)
    return sum(r.get(key, 0) for r in records) / compared if compared else None


def _fmt(value, spec=".2f", suffix="") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _rows(summaries: dict[str, dict]) -> list[str]:
    rows = [
        "| method | pass@1 (write) | hidden ratio | optimize correct | speed-up median / geomean | vs expert median / geomean | bad offers | refused: replay / generated | LLM calls / task | tokens / task | s / task | evaluating |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, s in summaries.items():
        rows.append(
            f"| {LABELS.get(method, method)} | {_fmt(s['pass_at_1'], '.0%')} | {_fmt(s['hidden_pass_ratio'], '.0%')} | "
            f"{_fmt(s['optimize_correct'], '.0%')} | {_fmt(s['speedup_median'], '.2f', 'x')} / {_fmt(s['speedup_geomean'], '.2f', 'x')} | "
            f"{_fmt(s['vs_expert_median'], '.2f', 'x')} / {_fmt(s['vs_expert_geomean'], '.2f', 'x')} | {s['bad_offers']} of {s['offered']} | "
            f"{_fmt(s.get('refused_by_replay'), '.0%')} / {_fmt(s.get('refused_by_generated'), '.0%')} of {s.get('replayed', 0)} | "
            f"{_fmt(s['llm_calls_mean'], '.1f')} | {_fmt(s['generated_tokens_mean'], '.0f')} | {_fmt(s['wall_seconds_mean'], '.0f')} | "
            f"{_fmt(s.get('evaluation_share'), '.0%')} |"
        )
    return rows


def markdown(summaries: dict[str, dict], meta: dict, partial: dict[str, dict] | None = None) -> str:
    lines = [
        "# Quality benchmark",
        "",
        f"Model: `{meta['model']}`. Machine: {meta['machine']}. Tasks: {meta['write']} write "
        f"({', '.join(f'{k} {v}' for k, v in meta['sets'].items())}) and {meta['optimize']} optimize (ENAMEL).",
        f"Command: `{meta['command']}`. Search wall time, all methods: {meta['search_minutes']:.0f} min.",
        "",
        f"**Compared on the {meta['paired_tasks']} tasks every method below has finished ({meta['paired_write']} write, "
        f"{meta['paired_tasks'] - meta['paired_write']} optimize)**; finished per method: "
        + ", ".join(f"{LABELS.get(m, m)} {n}" for m, n in meta["finished_per_method"].items())
        + (" (a partial run: `python -m bench.quality.run` continues it)." if not meta["complete"] else "."),
        "",
        "Write tasks: pass@1 = share of tasks whose result passes every held-back test; hidden ratio = mean share of",
        "held-back tests passed. Optimize tasks: correct = passes every held-back test the original passes (a few slow",
        "originals run out of those tests' time limits) and the timing inputs; speed-up =",
        "original CPU time / result's, over correct results (the original itself counts when nothing was offered);",
        "vs expert = result's time / ENAMEL expert's (lower is better). Bad offers: results offered that fail a",
        "held-back test the original passed, or (optimize) are slower than the original. Evaluating = share of the",
        "searches' wall time spent in the sandbox (test runs, per-call benchmarks, runs alone, CrossHair).",
        "",
        *_rows(summaries),
    ]
    measured = {m: s["evaluation_by_measure"] for m, s in summaries.items() if s.get("evaluation_by_measure")}
    if measured:
        lines += ["", "Evaluating, by what it was spent on (share of the searches' wall time):", ""]
        for method, shares in measured.items():
            lines.append(
                f"- {LABELS.get(method, method)}: "
                + ", ".join(f"{what} {share:.1%}" for what, share in sorted(shares.items(), key=lambda item: -item[1]))
            )
    sets = sorted({k for s in summaries.values() for k in s["by_set"]})
    if sets:
        lines += ["", "pass@1 by set:", "", "| method | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
        for method, s in summaries.items():
            lines.append(f"| {LABELS.get(method, method)} | " + " | ".join(_fmt(s["by_set"].get(k), ".0%") for k in sets) + " |")
    for method, tables in (partial or {}).items():
        done = tables[method]
        lines += [
            "",
            f"**{LABELS.get(method, method)}, part-way: compared on the {done['tasks']} tasks it has finished "
            f"({done['write_tasks']} write, {done['optimize_tasks']} optimize)**",
            "",
            *_rows(tables),
        ]
    lines += ["", "![pass@1](pass_at_1.png) ![speed-ups](speedups.png) ![quality vs calls](quality_vs_calls.png)", ""]
    return "\n".join(lines)


def plots(summaries: dict[str, dict], records: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(summaries)
    most = max(s["tasks"] for s in summaries.values())
    # A method still part-way is shown on the tasks it has finished, and says so.
    labels = [LABELS.get(m, m) + (f"\n({summaries[m]['tasks']} tasks)" if summaries[m]["tasks"] < most else "") for m in methods]

    fig, ax = plt.subplots(figsize=(7, 3.6))
    values = [100 * (summaries[m]["pass_at_1"] or 0) for m in methods]
    bars = ax.bar(labels, values, color=["#999"] * (len(methods)))
    for bar, method in zip(bars, methods):
        if method == "orps":
            bar.set_color("#2a7")
    ax.bar_label(bars, fmt="%.0f%%")
    ax.set_ylabel("pass@1 on held-back tests (%)")
    ax.set_title("Write tasks: pass@1 per method")
    ax.tick_params(axis="x", labelrotation=15)
    fig.tight_layout()
    fig.savefig(out / "pass_at_1.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.6))
    data = [
        [
            r["timing"]["speedup_vs_original"]
            for r in records
            if r["method"] == m and r["kind"] == "optimize" and optimize_correct(r) and r["timing"].get("speedup_vs_original")
        ]
        for m in methods
    ]
    for index, values in enumerate(data):
        ax.scatter([index] * len(values), values, alpha=0.7)
    ax.set_xticks(range(len(methods)), labels, rotation=15)
    ax.set_yscale("log")
    ax.axhline(1.0, color="#888", linewidth=0.8)
    ax.set_ylabel("speed-up vs original (log)")
    ax.set_title("Optimize tasks: speed-up of correct results")
    fig.tight_layout()
    fig.savefig(out / "speedups.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, label in zip(methods, labels):
        s = summaries[method]
        ax.scatter(s["llm_calls_mean"] or 0, 100 * (s["pass_at_1"] or 0), s=60)
        ax.annotate(
            label, (s["llm_calls_mean"] or 0, 100 * (s["pass_at_1"] or 0)), textcoords="offset points", xytext=(5, 5), fontsize=8
        )
    ax.set_xlabel("mean LLM calls per task")
    ax.set_ylabel("pass@1, write tasks (%)")
    ax.set_title("Quality against LLM calls")
    fig.tight_layout()
    fig.savefig(out / "quality_vs_calls.png", dpi=110)
    plt.close(fig)


def comparisons(records: list[dict], methods: list[str], task_ids: set[str]) -> tuple[dict, dict]:
    """Summaries of the methods on the same tasks.

    Main: the methods that finished every task, on all of them (or, while
    none has, every method on the tasks all have finished). Then, for each
    method still part-way, that method and the finished ones on the tasks it
    has done, so a partial run neither shrinks the main table nor goes unseen.
    """
    finished = {m: {r["task"] for r in records if r["method"] == m} for m in methods}
    finished = {m: done for m, done in finished.items() if done}
    complete = [m for m, done in finished.items() if done >= task_ids]
    main_methods = complete or list(finished)
    main_tasks = set.intersection(*(finished[m] for m in main_methods)) if main_methods else set()

    def summaries_on(chosen: list[str], on: set[str]) -> dict:
        return {m: method_summary([r for r in records if r["method"] == m and r["task"] in on]) for m in chosen}

    partial = {m: summaries_on([*complete, m], finished[m]) for m in finished if complete and m not in complete}
    return summaries_on(main_methods, main_tasks), partial


def summarize(tasks, methods: list[str], model_name: str, cache: Path, out: Path) -> dict:
    records = load_records(cache, tasks, methods, model_name)
    finished = {m: {r["task"] for r in records if r["method"] == m} for m in methods}
    finished = {m: done for m, done in finished.items() if done}
    summaries, partial = comparisons(records, methods, {t.id for t in tasks})
    paired = set.intersection(*(finished[m] for m in summaries)) if summaries else set()
    sets: dict[str, int] = {}
    for task in tasks:
        if task.kind == "write":
            sets[task.info["set"]] = sets.get(task.info["set"], 0) + 1
    meta = {
        "model": model_name,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
        "write": sum(1 for t in tasks if t.kind == "write"),
        "optimize": sum(1 for t in tasks if t.kind == "optimize"),
        "sets": sets,
        "command": ".venv/bin/python -m bench.quality.run",
        "search_minutes": sum(r["wall_seconds"] for r in records) / 60,
        "complete": len(records) == len(tasks) * len(methods),
        "records": len(records),
        "paired_tasks": len(paired),
        "paired_write": sum(1 for t in tasks if t.id in paired and t.kind == "write"),
        "finished_per_method": {m: len(done) for m, done in finished.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "summary": summaries, "partial": partial, "records": records}, indent=1)
    )
    (out / "results.md").write_text(markdown(summaries, meta, partial))
    if summaries:
        plots({**summaries, **{m: tables[m] for m, tables in partial.items()}}, records, out)
    print((out / "results.md").read_text())
    if not meta["complete"]:
        print(f"partial: {len(records)} of {len(tasks) * len(methods)} results; run again to continue")
    return summaries


if __name__ == "__main__":
    from .tasks import Task

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench/results/quality")
    saved = json.loads((out.parent / "tasks.json").read_text())
    tasks = [Task.from_dict(t) for t in saved["tasks"]]
    from orps_lsp.model.embedded import DEFAULT_MODEL

    summarize(tasks, list(METHODS), DEFAULT_MODEL, out / "cache", out)
