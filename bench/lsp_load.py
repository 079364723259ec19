"""Load benchmark: does the language server answer everything while a search runs?

Starts `orps-lsp --stdio` on a copy of examples/slowmath, starts a search of
has_duplicates (the scripted model, each answer delayed, so the search lasts
about half a minute and runs the real tests in the real sandbox), and while it
runs fires `--rate` textDocument/codeAction and textDocument/hover requests per
second, all at once at the start of each second (or spread over it with
--spread), without waiting for answers, for `--seconds`. Prints how many were
sent, answered and failed, the latency percentiles, and how the search ended.
Exits 1 when a request failed or went unanswered, or the search did not end
with an offered edit or "nothing better".

    python -m bench.lsp_load [--rate 20] [--seconds 25] [--delay 3] [--spread] [--model NAME_OR_PATH]

--model uses the real model instead of the scripted one (the search then takes
as long as the model does; requests are fired for --seconds or until it ends).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.lsp_fixtures.harness import FAST_HAS_DUPLICATES, copy_example, editor_session, line_of, target

from .lsp_latency import METHODS, percentile, request

REQUEST_TIMEOUT = 10.0  # an answer later than this counts as unanswered
# The critic never says done, so the search goes through every round.
GO_ON_CRITIC = "Critique: correct, could be faster\nScore: 4\nDone: no"


def row(title: str, values: list[float]) -> str:
    if not values:
        return f"  {title:<11} n=0"
    ms = [1000 * v for v in values]
    return (
        f"  {title:<11} n={len(ms):<5} p50 {statistics.median(ms):7.2f} ms   p95 {percentile(ms, 0.95):7.2f} ms   "
        f"p99 {percentile(ms, 0.99):7.2f} ms   max {max(ms):7.2f} ms"
    )


async def main(rate: int, seconds: float, delay: float, spread: bool, model: str | None) -> int:
    project = copy_example(Path(tempfile.mkdtemp(prefix="orps-load-")))
    settings = {"expansions": 2, "depth": 2, "beamWidth": 1, "maxLlmCalls": 8, "contextSize": 4096}
    answers = None
    if model:
        settings["model"] = model
    else:
        answers = project.parent / "answers.json"
        answers.write_text(json.dumps({"programmer": [FAST_HAS_DUPLICATES], "critic": [GO_ON_CRITIC], "delaySeconds": delay}))

    latencies: dict[str, list[float]] = {method: [] for method in METHODS}
    errors: list[str] = []
    sent = 0
    async with editor_session(project, answers=answers, init_options=settings) as editor:
        uri = editor.open(project / "slowmath.py")
        text = editor.text(uri)
        lines = [line_of(text, "for i in range"), line_of(text, "return fib"), line_of(text, "raise NotImplementedError"), 0]
        for line in lines:  # warm-up: imports and the parse cache
            for method in METHODS:
                await request(editor, uri, method, line)

        async def one(method: str, line: int) -> None:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(request(editor, uri, method, line), REQUEST_TIMEOUT)
            except Exception as exc:  # a timeout or an error answer
                errors.append(f"{method}: {type(exc).__name__}: {exc}")
                return
            latencies[method].append(time.perf_counter() - started)

        search_started = time.perf_counter()
        search = asyncio.ensure_future(editor.command("orps.optimize", target(uri, lines[0])))
        while not editor.progress_reports and not search.done():
            await asyncio.sleep(0.01)

        tasks: list[asyncio.Task] = []
        fire_started = time.perf_counter()
        second = 0
        while second < seconds and not search.done():
            tick = fire_started + second
            for index in range(rate):
                if spread:
                    await asyncio.sleep(max(0.0, tick + index / rate - time.perf_counter()))
                method, line = METHODS[sent % len(METHODS)], lines[(sent // len(METHODS)) % len(lines)]
                tasks.append(asyncio.ensure_future(one(method, line)))
                sent += 1
            second += 1
            await asyncio.sleep(max(0.0, fire_started + second - time.perf_counter()))
        fired_for = time.perf_counter() - fire_started
        running_after = not search.done()
        await asyncio.gather(*tasks)
        try:
            result = await asyncio.wait_for(search, 600)
        except Exception as exc:
            result = {"status": f"failed: {type(exc).__name__}: {exc}"}
        search_seconds = time.perf_counter() - search_started

    answered = sum(len(values) for values in latencies.values())
    every = [v for values in latencies.values() for v in values]
    pattern = "spread over each second" if spread else "all at once at the start of each second"
    print(
        f"orps-lsp under load: {rate} codeAction/hover requests per second ({pattern}), during a search "
        f"({'model ' + model if model else f'scripted model, {delay:g} s per answer'}; real tests in the sandbox)"
    )
    print(f"  fired for {fired_for:.1f} s; the search was {'still running' if running_after else 'over'} when firing stopped")
    print(f"  sent {sent}   answered {answered}   errors/unanswered {len(errors)}")
    print(row("all", every))
    for method in METHODS:
        print(row(method, latencies[method]))
    for error in errors[:5]:
        print(f"  error: {error}")
    print(f"search: {result.get('status')} after {search_seconds:.1f} s - {result.get('verdict', result.get('message', ''))}")
    ok = not errors and answered == sent and result.get("status") in ("applied", "nothing better", "discarded")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.lsp_load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=20, help="requests per second (half codeAction, half hover)")
    parser.add_argument("--seconds", type=float, default=25.0, help="how long to fire (stops earlier if the search ends)")
    parser.add_argument("--delay", type=float, default=3.0, help="seconds per scripted answer (8 answers in the search)")
    parser.add_argument("--spread", action="store_true", help="spread each second's requests evenly instead of a burst")
    parser.add_argument("--model", help="a .gguf path or an embedded model name instead of the scripted model")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.rate, arguments.seconds, arguments.delay, arguments.spread, arguments.model)))
