"""How quickly the language server answers while a search runs.

Starts `orps-lsp --stdio` on a copy of examples/slowmath, measures
textDocument/codeAction and textDocument/hover latency (p50/p99) with no
search running, then again while a real search (the embedded model) runs on
has_duplicates, and prints the figures.

    python -m bench.lsp_latency [--requests 200] [--model NAME_OR_PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from lsprotocol import types

# tests/ is a namespace package here (no __init__.py): `python -m` from the repository root finds it.
from tests.lsp_fixtures.harness import SimulatedEditor, copy_example, editor_session, line_of, target


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


METHODS = ("codeAction", "hover")


async def request(editor: SimulatedEditor, uri: str, method: str, line: int) -> None:
    """One textDocument/codeAction or textDocument/hover (`method`) at `line` (also used by lsp_load)."""
    if method == "codeAction":
        await editor.code_actions(uri, line)
    else:
        position = types.Position(line=line, character=4)
        await editor.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position)
        )


async def measure(
    editor: SimulatedEditor, uri: str, lines: list[int], count: int, keep_going=lambda: True
) -> dict[str, list[float]]:
    """`count` code action and hover requests, alternating over `lines`, one at a time."""
    samples: dict[str, list[float]] = {method: [] for method in METHODS}
    for index in range(count):
        if not keep_going():
            break
        for method in METHODS:
            started = time.perf_counter()
            await request(editor, uri, method, lines[index % len(lines)])
            samples[method].append(time.perf_counter() - started)
        await asyncio.sleep(0.01)  # a typing user, not a flood
    return samples


def print_figures(title: str, samples: dict[str, list[float]]) -> None:
    for method, values in samples.items():
        if values:
            print(
                f"  {title:<30} {method:<11} n={len(values):<4} p50 {1000 * statistics.median(values):7.2f} ms   "
                f"p99 {1000 * percentile(values, 0.99):7.2f} ms   max {1000 * max(values):7.2f} ms"
            )


async def main(requests: int, model: str | None) -> None:
    project = copy_example(Path(tempfile.mkdtemp(prefix="orps-latency-")))
    settings = {"expansions": 2, "depth": 1, "beamWidth": 1, "maxLlmCalls": 4, "contextSize": 4096}
    if model:
        settings["model"] = model
    async with editor_session(project, answers=None, init_options=settings) as editor:
        uri = editor.open(project / "slowmath.py")
        text = editor.text(uri)
        lines = [line_of(text, "for i in range"), line_of(text, "return fib"), line_of(text, "raise NotImplementedError"), 0]
        await measure(editor, uri, lines, 20)  # warm-up
        idle = await measure(editor, uri, lines, requests)

        editor.answers = ["Discard"]  # leave the text as it is
        search = asyncio.ensure_future(editor.command("orps.optimize", target(uri, lines[0])))
        # Measure once the model is loaded and the search is generating and running tests.
        while not any((getattr(v, "message", "") or "").startswith("round") for v in editor.progress_values()):
            await asyncio.sleep(0.1)
        busy = await measure(editor, uri, lines, 1_000_000, keep_going=lambda: not search.done())  # the whole search
        result = await search
        with_report = await measure(editor, uri, lines, requests)

    print(
        f"orps-lsp request latency (one request at a time, 10 ms apart; {requests} per idle row, all the search lasted when busy)"
    )
    print_figures("no search running", idle)
    print_figures("during a real search", busy)
    print_figures("after it (hover has a report)", with_report)
    print(f"search: {result.get('status')} - {result.get('verdict', result.get('message', ''))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.lsp_latency", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--model", help="a .gguf path or an embedded model name (default: the embedded default)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.model))
