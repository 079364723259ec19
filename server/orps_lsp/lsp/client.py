"""Every call the server makes to the editor, behind one small facade.

Handlers talk to an `EditorClient` instead of pygls, so they can be tested
with a fake, and the capability checks (does this editor show progress? can
it answer a question?) live in one place. All methods run on the event loop
thread; `call_soon` is the one door in from the search worker thread, because
pygls' writers are not thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.lsp.server import LanguageServer
from pygls.progress import Progress

from ..contract import PROBLEM_NOTIFICATION, Problem

log = logging.getLogger("orps_lsp")


def message_type(level: int) -> types.MessageType:
    if level >= logging.ERROR:
        return types.MessageType.Error
    if level >= logging.WARNING:
        return types.MessageType.Warning
    return types.MessageType.Info if level >= logging.INFO else types.MessageType.Log


class EditorClient:
    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self.loop: asyncio.AbstractEventLoop | None = None
        self.name = "unknown"  # the editor's clientInfo.name, set at initialize
        self.problem_codes = False  # initializationOptions.problemCodes: messages the user can act on go as orps/problem

    # ------------------------------------------------------------ threading
    def bind_loop(self) -> None:
        """Remember the event loop (called from a handler, which runs on it)."""
        self.loop = asyncio.get_running_loop()

    def call_soon(self, function: Callable[..., Any], *args: Any) -> None:
        """Run `function(*args)` on the event loop thread; safe from any thread."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(function, *args)

    # --------------------------------------------------------- capabilities
    @property
    def capabilities(self) -> types.ClientCapabilities:
        try:
            return self.server.client_capabilities
        except AttributeError:  # before initialize
            return types.ClientCapabilities()

    def supports_progress(self) -> bool:
        window = self.capabilities.window
        return bool(window and window.work_done_progress)

    def supports_questions(self) -> bool:
        window = self.capabilities.window
        return bool(window and window.show_message and window.show_message.message_action_item is not None)

    def supports_show_document(self) -> bool:
        window = self.capabilities.window
        return bool(window and window.show_document and window.show_document.support)

    def supports_document_changes(self) -> bool:
        workspace = self.capabilities.workspace
        return bool(workspace and workspace.workspace_edit and workspace.workspace_edit.document_changes)

    def supports_configuration(self) -> bool:
        workspace = self.capabilities.workspace
        return bool(workspace and workspace.configuration)

    def supports_code_lens_refresh(self) -> bool:
        workspace = self.capabilities.workspace
        return bool(workspace and workspace.code_lens and workspace.code_lens.refresh_support)

    def describe_capabilities(self) -> dict[str, Any]:
        unstructured: dict[str, Any] = get_converter().unstructure(self.capabilities)  # cattrs: an attrs class -> a dict
        return unstructured

    # -------------------------------------------------------------- messages
    def show_message(self, text: str, kind: types.MessageType = types.MessageType.Info, problem: Problem | None = None) -> None:
        """window/showMessage; orps/problem instead, with the code of the fix, to an editor that asked
        (initializationOptions.problemCodes)."""
        if problem is not None and self.problem_codes:
            self.notify(PROBLEM_NOTIFICATION, {"problem": problem.value, "message": text, "type": int(kind)})
            return
        self.server.window_show_message(types.ShowMessageParams(type=kind, message=text))

    def notify(self, method: str, params: Any) -> None:
        """A notification of this server's own (orps/progress)."""
        self.server.protocol.notify(method, params)

    def log(self, text: str, kind: types.MessageType = types.MessageType.Log) -> None:
        self.server.window_log_message(types.LogMessageParams(type=kind, message=text))

    async def ask(self, text: str, choices: Sequence[str], kind: types.MessageType = types.MessageType.Info) -> str | None:
        """The title the user picked; None when dismissed (or the editor cannot ask)."""
        if not self.supports_questions():
            return None
        answer = await self.server.window_show_message_request_async(
            types.ShowMessageRequestParams(type=kind, message=text, actions=[types.MessageActionItem(title=c) for c in choices])
        )
        return answer.title if answer else None

    async def show_document(self, uri: str) -> bool:
        if not self.supports_show_document():
            return False
        result = await self.server.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True))
        return bool(result and result.success)

    # ---------------------------------------------------------------- edits
    async def apply_edit(self, label: str, uri: str, version: int | None, edits: list[types.TextEdit]) -> tuple[bool, str]:
        """(applied, why not). A versioned edit: the editor refuses it if the text moved on."""
        if self.supports_document_changes():
            document = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
            edit = types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=document, edits=edits)])
        else:
            edit = types.WorkspaceEdit(changes={uri: edits})
        result = await self.server.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
        return bool(result and result.applied), (result.failure_reason or "") if result else "no answer"

    def publish_diagnostics(self, uri: str, diagnostics: list[types.Diagnostic], version: int | None = None) -> None:
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    def refresh_code_lenses(self) -> None:
        if self.supports_code_lens_refresh():
            self.server.workspace_code_lens_refresh(None)  # fire and forget: nothing to do with the answer

    async def configuration(self, section: str) -> Any:
        """The section's value from workspace/configuration; None when unsupported or unset."""
        if not self.supports_configuration():
            return None
        values = await self.server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=section)])
        )
        return values[0] if values else None

    # -------------------------------------------------------------- progress
    async def start_progress(self, title: str, on_cancel: Callable[[], None]) -> ProgressReporter:
        """Begin a cancellable progress bar (a no-op reporter when the editor has none)."""
        if not self.supports_progress():
            self.show_message(f"{title} ...")  # the only sign of life such an editor gets until the result
            return ProgressReporter(self, None)
        token = f"orps-{uuid.uuid4()}"
        try:
            await self.server.work_done_progress.create_async(token)
        except Exception as exc:  # the editor refused: carry on without a bar
            log.info("progress not available: %s", exc)
            return ProgressReporter(self, None)
        reporter = ProgressReporter(self, token)
        reporter.begin(title, on_cancel)
        return reporter


class ProgressReporter:
    """$/progress begin/report/end for one token; silent without a token."""

    def __init__(self, client: EditorClient, token: str | None) -> None:
        self.client = client
        self.token = token
        self._last: tuple[str, int | None] | None = None
        self.ended = False

    @property
    def _progress(self) -> Progress:
        return self.client.server.work_done_progress

    def begin(self, title: str, on_cancel: Callable[[], None]) -> None:
        if self.token is None:
            return
        self._progress.begin(self.token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0))
        # pygls cancels this future on window/workDoneProgress/cancel.
        cancelled = self._progress.tokens.get(self.token)
        if cancelled is not None:
            cancelled.add_done_callback(lambda future: on_cancel() if future.cancelled() else None)

    def report(self, message: str, fraction: float | None = None) -> None:
        percentage = None if fraction is None else max(0, min(100, round(fraction * 100)))
        if self.token is None or self.ended or (message, percentage) == self._last:
            return
        self._last = (message, percentage)
        self._progress.report(self.token, types.WorkDoneProgressReport(message=message, percentage=percentage, cancellable=True))

    def end(self, message: str) -> None:
        if self.token is None or self.ended:
            return
        self.ended = True
        self._progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self._progress.tokens.pop(self.token, None)


class EditorLogHandler(logging.Handler):
    """Python logging -> window/logMessage, from any thread; the level is the logLevel setting."""

    def __init__(self, client: EditorClient) -> None:
        super().__init__()
        self.client = client

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            self.client.call_soon(self.client.log, text, message_type(record.levelno))
        except Exception:  # logging must never break a search
            self.handleError(record)
