"""The orps.* commands (contract.Command): each handler checks its argument, then hands the
work to the module that does it.

orps.optimize / orps.solve queue a search, follow it and offer the winner; orps.cancel
stops searches; orps.getReport sends a finished search's report page; orps.debugInfo
describes the server. Malformed arguments raise InvalidParams; a refused search answers
`{status, message, problem?}` (failures.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from pygls.workspace import Workspace

from ..contract import Command
from ..report_html import render_html
from .arguments import parse_target
from .client import EditorClient
from .debug_info import collect_debug_info
from .documents import document_text, locate, read_target
from .edit_offer import EditOffer
from .failures import Refusal, refuse
from .hover import ReportStore
from .jobs import SearchQueue
from .model_loading import ModelHolder
from .progress_relay import ProgressRelay
from .search_run import follow, queue_search
from .settings import Settings

OPTIMIZE, SOLVE, DEBUG_INFO, CANCEL = Command.OPTIMIZE, Command.SOLVE, Command.DEBUG_INFO, Command.CANCEL
GET_REPORT = Command.GET_REPORT
_SEARCH_COMMANDS = {"optimize": OPTIMIZE, "solve": SOLVE}  # mode -> its command


class SearchCommands:
    """The handlers' state: the editor, the queue, the reports, the model, and what the editor asked for.

    `review_edits` (initializationOptions.reviewEdits) is set for an editor that
    reviews an offered edit itself when workspace/applyEdit arrives: the server
    then sends the edit without asking Apply / Show diff / Discard first.
    """

    def __init__(
        self,
        client: EditorClient,
        jobs: SearchQueue,
        store: ReportStore,
        models: ModelHolder,
        settings: Callable[[], Awaitable[Settings]],
        workspace: Callable[[], Workspace],
        on_report: Callable[[str], None],
        review_edits: bool = False,
    ) -> None:
        self.client, self.jobs, self.store, self.models = client, jobs, store, models
        self.settings, self.workspace, self.on_report = settings, workspace, on_report
        self.offer = EditOffer(client, workspace)
        self.review_edits = review_edits
        self.search_progress = False  # initializationOptions.searchProgress: send orps/progress too

    @property
    def review_edits(self) -> bool:
        return self.offer.review_edits

    @review_edits.setter
    def review_edits(self, value: bool) -> None:
        self.offer.review_edits = value

    async def search(self, arguments: Sequence[Any], mode: str) -> dict[str, Any]:
        """orps.optimize / orps.solve: queue a search for the function at the target, follow it, offer the result."""
        command = _SEARCH_COMMANDS[mode]
        target = parse_target(command, arguments)
        try:
            settings = await self.settings()  # first: nothing may move between reading the text and queueing
            located = read_target(self.workspace(), command, target)
            relay = ProgressRelay(self.client, located.info.qualname, mode, as_data=self.search_progress)
            job = queue_search(self.client, self.jobs, self.models, located, mode, settings, relay)
            report = await follow(self.client, job, relay, f"ORPS: {mode} {located.info.qualname}")
        except Refusal as refusal:
            return refuse(self.client, refusal)
        self.store.put(target.uri, report)
        self.on_report(target.uri)
        return await self.offer.offer(report, target.uri, located.version, located.source)

    def cancel(self, arguments: Sequence[Any]) -> dict[str, Any]:
        """orps.cancel [{uri, position | function}]: that function's search, or every search."""
        key = None
        if arguments:
            target = parse_target(CANCEL, arguments)
            try:
                document, source = document_text(self.workspace(), CANCEL, target.uri)
            except (OSError, UnicodeDecodeError) as exc:
                return refuse(self.client, Refusal(f"cancel: {exc}"))
            info = locate(target, source)
            if info is None or not document.path:
                return {"cancelled": []}
            key = (str(Path(document.path).resolve()), info.qualname)
        cancelled = [job.function for job in self.jobs.cancel(key)]
        return {"cancelled": cancelled}

    def get_report(self, arguments: Sequence[Any]) -> dict[str, Any] | None:
        """orps.getReport [{uri, position | function}] -> {html, function}; None when that function has no report yet.

        The page is report_html.render_html's, the one `orps-lsp optimize --report` writes.
        A function name is looked up as it is (the document need not be open); a position
        names the function holding it in the document's current text.
        """
        target = parse_target(GET_REPORT, arguments)
        reports = self.store.for_document(target.uri)
        if target.function is not None:
            report = reports.get(target.function)
        elif not reports:
            report = None
        else:
            try:
                _, source = document_text(self.workspace(), GET_REPORT, target.uri)
            except (OSError, UnicodeDecodeError) as exc:
                return refuse(self.client, Refusal(f"getReport: cannot read {target.uri}: {exc}"))
            info = locate(target, source)
            report = reports.get(info.qualname) if info is not None else None
        if report is None:
            return None
        return {"html": render_html(report), "function": report.function}

    async def debug_info(self) -> dict[str, Any]:
        settings = await self.settings()
        return await collect_debug_info(
            settings, self.models, self.jobs, self.client, review_edits=self.review_edits, search_progress=self.search_progress
        )
