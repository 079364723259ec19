"""One search on the worker: queued with the settings of the moment, followed to its report.

The job prepares its input before it gets the model (bad input fails fast) and runs the
engine, as the CLI does. Following it shows a cancellable progress bar until it ends; its
failures become Refusals, each with one sentence for the user.
"""

from __future__ import annotations

import asyncio
import logging

from .. import engine
from ..cancel import Cancelled
from ..contract import Phase, Problem, Status
from ..discovery import CLI_HINT as NO_TESTS_CLI_HINT
from ..model.base import ModelError
from ..report import SearchReport
from .client import EditorClient, ProgressReporter
from .documents import Located
from .failures import Refusal
from .jobs import AlreadyRunning, Job, SearchQueue
from .model_loading import ModelHolder
from .progress_relay import ProgressRelay
from .settings import Settings

log = logging.getLogger("orps_lsp.search_run")

CANCEL_WAIT_SECONDS = 15.0  # how long a cancelled request waits for the sandbox to kill its processes
NO_TESTS_EDITOR_HINT = "Set orps.testPaths to the test files or folders to run."  # for discovery.CLI_HINT


def queue_search(
    client: EditorClient,
    jobs: SearchQueue,
    models: ModelHolder,
    located: Located,
    mode: str,
    settings: Settings,
    relay: ProgressRelay,
) -> Job:
    """Queue the search of `located` on the worker; a Refusal when that function has one already."""
    request = engine.SearchRequest(
        file=located.path,
        function=located.info.qualname,
        mode=mode,
        source=located.source,
        tests=list(settings.test_paths) or None,
        pytest_args=list(settings.pytest_args),
        limits=settings.sandbox_limits(),
        oracle=settings.oracle_options(),
    )

    def work(job: Job) -> SearchReport:  # on the search worker thread
        prepared = engine.prepare(request)  # before the model: bad input fails fast
        model = models.get(settings, say=lambda text: job.status(text, phase=Phase.LOADING))
        job.cancel.raise_if_cancelled()  # cancelled during the load: no sandbox, no "starting"
        job.status("starting", 0.0)
        return engine.run(
            prepared,
            model,
            settings.search_config(),
            progress=lambda p: job.status(p.message(), p.fraction, Phase(p.phase), p),
            cancel=job.cancel,
        )

    try:
        job = jobs.submit((str(located.path.resolve()), located.info.qualname), work, relay)
    except AlreadyRunning as exc:
        raise Refusal(str(exc), Status.ALREADY_RUNNING) from None
    client.refresh_code_lenses()  # the lens says "searching..."
    return job


async def follow(client: EditorClient, job: Job, relay: ProgressRelay, title: str) -> SearchReport:
    """Show the job's progress until it ends; its failures become refusals."""
    reporter = ProgressReporter(client, None)
    outcome = "failed"
    try:
        reporter = await client.start_progress(title, on_cancel=job.cancel.cancel)
        relay.attach(reporter)
        report: SearchReport = await asyncio.shield(job.future)  # what queue_search's work returns
        outcome = report.verdict
        return report
    except asyncio.CancelledError:  # $/cancelRequest for this command
        job.cancel.cancel()
        await asyncio.wait([job.future], timeout=CANCEL_WAIT_SECONDS)  # let the sandbox kill its processes
        outcome = "cancelled"
        raise
    except Cancelled:
        outcome = "cancelled"
        raise Refusal(f"the search for {job.function} was cancelled", Status.CANCELLED) from None
    except engine.InputError as exc:
        outcome = str(exc).replace(NO_TESTS_CLI_HINT, NO_TESTS_EDITOR_HINT)
        if exc.details:  # pytest's own output: for the log, not the message
            log.warning("%s: %s\n%s", job.function, outcome, exc.details)
        raise Refusal(outcome, problem=exc.problem) from None
    except ModelError as exc:
        outcome = str(exc)
        raise Refusal(outcome, problem=Problem.MODEL) from None
    except Exception as exc:
        log.exception("the search for %s failed", job.function)
        raise Refusal(f"the search for {job.function} failed: {exc}") from None
    finally:
        relay.finish()
        reporter.end(outcome)
        client.refresh_code_lenses()
