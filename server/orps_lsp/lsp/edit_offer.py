"""A finished search's winner offered as one edit: checked, asked about, applied, told.

Nothing is sent when the document moved on during the search (or while the question was
open). An editor that reviews edits itself (initializationOptions.reviewEdits) gets the
edit at once; another is asked Apply / Show diff / Discard first, when it can ask.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.workspace import Workspace

from ..contract import Status
from ..render import critique_summary, unified_diff
from ..report import SearchReport
from .client import EditorClient
from .edits import minimal_edit
from .review_tokens import APPLY, DISCARD, DISCARDED_IN_REVIEW, SHOW_DIFF, edit_label

log = logging.getLogger("orps_lsp.edit_offer")


class EditOffer:
    def __init__(self, client: EditorClient, workspace: Callable[[], Workspace]) -> None:
        self.client, self.workspace = client, workspace
        self.review_edits = False  # initializationOptions.reviewEdits: the editor asks the user itself

    async def offer(self, report: SearchReport, uri: str, version: int | None, source: str) -> dict[str, Any]:
        """The command's answer: {status, function, verdict, improved} (contract.Status)."""
        function = report.function
        summary = {"function": function, "verdict": report.verdict, "improved": report.improved}
        for warning in report.warnings:
            log.warning("%s: [%s] %s", function, warning.code, warning.message)
        if not report.improved or report.new_source is None:
            self.client.show_message(f"ORPS: nothing better for {function}. {report.verdict}. {critique_summary(report)}")
            return {"status": Status.NOTHING_BETTER, **summary}
        stale = f"{function} changed while the search ran; nothing was applied (run the search again on the new text)"
        if self._is_stale(uri, version, source):
            self.client.show_message(f"ORPS: {stale}", types.MessageType.Warning)
            return {"status": Status.STALE, **summary}
        if not self.review_edits and await self._confirm(report, source) != APPLY:
            return {"status": Status.DISCARDED, **summary}
        if self._is_stale(uri, version, source):  # edited while the question was open
            self.client.show_message(f"ORPS: {stale}", types.MessageType.Warning)
            return {"status": Status.STALE, **summary}
        document = self.workspace().get_text_document(uri)
        edit = minimal_edit(source, report.new_source, units=document.position_codec.client_num_units)
        applied, reason = await self.client.apply_edit(edit_label(function), uri, version, [edit] if edit else [])
        if not applied and reason == DISCARDED_IN_REVIEW:  # the editor's own review said Discard
            return {"status": Status.DISCARDED, **summary}
        if not applied:
            why = f": {reason}" if reason else ""
            self.client.show_message(f"ORPS: the editor did not apply the edit to {function}{why}", types.MessageType.Warning)
            return {"status": Status.NOT_APPLIED, "reason": reason, **summary}
        self.client.show_message(f"ORPS: applied to {function} - {report.verdict}")
        return {"status": Status.APPLIED, **summary}

    def _is_stale(self, uri: str, version: int | None, source: str) -> bool:
        document = self.workspace().get_text_document(uri)
        try:
            return document.version != version or document.source != source
        except OSError:
            return True

    async def _confirm(self, report: SearchReport, source: str) -> str:
        """Apply / Show diff / Discard when the editor can ask; apply when it cannot."""
        if not self.client.supports_questions():
            return APPLY
        choices = [APPLY, SHOW_DIFF, DISCARD]
        while True:
            answer = await self.client.ask(f"ORPS: {report.function} - {report.verdict}. Apply it?", choices)
            if answer != SHOW_DIFF:
                return answer or DISCARD
            await self._show_diff(report, source)
            choices = [APPLY, DISCARD]

    async def _show_diff(self, report: SearchReport, source: str) -> None:
        diff = unified_diff(report, source)
        folder = Path(tempfile.gettempdir()) / "orps-lsp"
        folder.mkdir(exist_ok=True)
        path = folder / f"{Path(report.file).stem}.{report.function}.diff"
        path.write_text(diff, encoding="utf-8")
        if not await self.client.show_document(path.as_uri()):
            self.client.log(diff, types.MessageType.Info)
            self.client.show_message(f"ORPS: the diff for {report.function} is in the output log and in {path}")
