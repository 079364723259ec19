"""Carries a search's progress from the worker thread to the editor's progress bar.

The text goes to $/progress; the same state as data goes to orps/progress
(contract.SearchProgress, with the bar's token), for clients that show it.
"""

from __future__ import annotations

import logging
from typing import Any

from ..contract import PROGRESS_NOTIFICATION, Phase, SearchProgress
from .client import EditorClient, ProgressReporter

log = logging.getLogger("orps_lsp.progress_relay")


class ProgressRelay:
    """Called by the job on the worker thread; shows on the event loop.

    The bar is created after the job is queued (it needs the job's cancel), so
    the latest state is kept until the bar exists.
    """

    def __init__(self, client: EditorClient, function: str, mode: str, *, as_data: bool) -> None:
        self.client, self.function, self.mode, self.as_data = client, function, mode, as_data
        self.reporter: ProgressReporter | None = None
        self.latest: tuple[str, float | None, Phase, Any] | None = None

    def __call__(self, message: str, fraction: float | None, phase: Phase, progress: Any) -> None:  # worker thread
        self.client.call_soon(self._show, message, fraction, phase, progress)

    def _show(self, message: str, fraction: float | None, phase: Phase, progress: Any) -> None:
        self.latest = (message, fraction, phase, progress)
        log.debug("progress: %s", message)
        if self.reporter is not None:
            self.reporter.report(message, fraction)
            self._notify(fraction, phase, progress)

    def attach(self, reporter: ProgressReporter) -> None:
        self.reporter = reporter
        if self.latest is None:
            self._notify(0.0, Phase.STARTING, None)  # the bar is up: so is the state beside it
        else:
            message, fraction, phase, progress = self.latest
            reporter.report(message, fraction)
            self._notify(fraction, phase, progress)

    def finish(self) -> None:
        self._notify(None, Phase.DONE, None)

    def _notify(self, fraction: float | None, phase: Phase, progress: Any) -> None:
        token = self.reporter.token if self.reporter is not None else None
        if token is None or not self.as_data:  # no bar to correlate with, or an editor that did not ask
            return
        state = SearchProgress(token=token, function=self.function, mode=self.mode, phase=phase, fraction=fraction)
        if progress is not None:  # the search's own Progress (search_task.py)
            state.round, state.rounds = progress.round + 1, progress.rounds
            state.candidate, state.candidates = progress.candidate, progress.candidates
            state.best_passed, state.best_total, state.best_speedup = (
                progress.best_passed,
                progress.best_total,
                progress.best_speedup,
            )
        self.client.notify(PROGRESS_NOTIFICATION, state.to_json())
