"""The language server: pygls wiring from LSP methods to the modules that do the work.

    orps-lsp --stdio          (or --tcp --host 127.0.0.1 --port 2087)

Handlers here stay thin: settings in settings.py, editor calls in client.py, code
actions in code_actions.py, the orps.* commands in commands.py (and the modules it
names), the search queue in jobs.py, hover/lens/diagnostics in hover.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument

from .. import __version__
from ..contract import Problem
from .arguments import target_arguments
from .client import EditorClient, EditorLogHandler
from .code_actions import QUICKFIX, REWRITE, code_actions, regression_test_actions
from .commands import CANCEL, DEBUG_INFO, GET_REPORT, OPTIMIZE, SOLVE, SearchCommands
from .hover import ReportStore, code_lenses, hover, weak_test_diagnostics
from .jobs import SearchQueue
from .model_loading import ModelHolder
from .settings import SECTION, Settings, merge, parse_settings

log = logging.getLogger("orps_lsp")
SETTINGS_WAIT_SECONDS = 5.0


class OrpsProtocol(LanguageServerProtocol):
    """Lets $/cancelRequest reach a running command.

    pygls runs a command's coroutine under an id of its own, so cancelling the
    workspace/executeCommand request would only answer the editor: the search
    would go on. Here the command's task is cancelled too.
    """

    _server: OrpsLanguageServer

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        task = self._server.running_commands.pop(msg_id, None)
        if task is not None:
            task.cancel()
        super()._handle_cancel_notification(msg_id)


class OrpsLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "orps-lsp", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental, protocol_cls=OrpsProtocol
        )
        self.running_commands: dict[Any, asyncio.Task[Any]] = {}  # request id -> the command's task
        self.editor = EditorClient(self)
        self.jobs = SearchQueue()
        self.store = ReportStore()
        self.models = ModelHolder(busy=lambda: bool(self.jobs.active()))
        self.settings = Settings()
        self.initialization_options: dict[str, Any] = {}
        self.editor_options = EditorOptions()
        self._reported_problems: set[str] = set()
        self.settings_pulled = asyncio.Event()  # set once workspace/configuration has answered (or failed)
        self.log_handler = EditorLogHandler(self.editor)
        self.log_handler.setFormatter(logging.Formatter("%(message)s"))
        self.commands = SearchCommands(
            self.editor,
            self.jobs,
            self.store,
            self.models,
            settings=self.current_settings,
            workspace=lambda: self.workspace,
            on_report=self.show_results,
        )

    # --------------------------------------------------------------- settings
    def apply_settings(self, raw: Any) -> None:
        settings, problems = parse_settings(raw)
        fresh = [p for p in problems if p not in self._reported_problems]
        if fresh:  # each problem once, however often the settings are re-read
            self._reported_problems.update(fresh)
            self.editor.show_message("ORPS settings: " + "; ".join(fresh), types.MessageType.Warning, Problem.SETTINGS)
        previous, self.settings = self.settings, settings
        self.log_handler.setLevel(settings.logging_level)
        logging.getLogger("orps_lsp").setLevel(settings.logging_level)
        if previous.model_key() != settings.model_key():
            log.info("model settings changed: a remote server is checked now, a local model loads at the next search")
        log.debug("settings: %s", settings.to_editor_dict())

    async def current_settings(self) -> Settings:
        """The settings a search uses: wait (briefly) for the editor's first answer."""
        try:
            await asyncio.wait_for(self.settings_pulled.wait(), SETTINGS_WAIT_SECONDS)
        except asyncio.TimeoutError:
            log.warning(
                "no workspace/configuration answer after %.0f s; searching with the settings known so far", SETTINGS_WAIT_SECONDS
            )
            self.settings_pulled.set()
        return self.settings

    async def pull_settings(self) -> None:
        """initializationOptions, overridden key by key by workspace/configuration."""
        try:
            configured = await self.editor.configuration(SECTION)
        except Exception as exc:  # an editor that fails the request: keep what we have
            log.info("workspace/configuration failed: %s", exc)
            configured = None
        self.apply_settings(merge(self.initialization_options, configured))
        self.settings_pulled.set()
        self.check_model()

    def check_model(self) -> None:
        """On start and on settings change: close a replaced model, check a remote server now (see
        ModelHolder.refresh), and say in a message what is wrong. In a daemon thread: a server that
        does not answer must hold up neither the editor nor the server's exit."""
        settings = self.settings

        def check() -> None:
            try:
                problem = self.models.refresh(settings)
            except Exception as exc:
                log.exception("the model check failed")
                problem = f"the model check failed: {exc}"
            if problem:
                self.editor.call_soon(self.editor.show_message, f"ORPS: {problem}", types.MessageType.Error, Problem.MODEL)

        threading.Thread(target=check, name="orps-model-check", daemon=True).start()

    async def cancellable(self, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """Run a command so that $/cancelRequest for it cancels it (see OrpsProtocol)."""
        request_id, task = self.protocol.msg_id, asyncio.current_task()
        if request_id is not None and task is not None:
            self.running_commands[request_id] = task
        try:
            return await work
        finally:
            self.running_commands.pop(request_id, None)

    def shutdown(self) -> None:
        """Also on exit and lost connections: stop searches so no test process outlives us."""
        self.jobs.shutdown()
        super().shutdown()  # type: ignore[no-untyped-call]  # pygls 2.1 leaves Server.shutdown unannotated

    # ------------------------------------------------------------ diagnostics
    def show_results(self, uri: str, *, refresh_lenses: bool = True) -> None:
        """Diagnostics (and code lenses) after a search, and as the document moves."""
        if not self.store.for_document(uri):
            return
        document, source = self.text_of(uri)
        if source is None:
            return
        self.editor.publish_diagnostics(uri, weak_test_diagnostics(self.store, uri, source), document.version)
        if refresh_lenses:
            self.editor.refresh_code_lenses()

    def text_of(self, uri: str) -> tuple[TextDocument, str | None]:
        """The document and its text; None for a closed file that cannot be read."""
        document = self.workspace.get_text_document(uri)
        try:
            return document, document.source
        except (OSError, UnicodeDecodeError):
            return document, None


@dataclass(frozen=True)
class EditorOptions:
    """initializationOptions about the editor itself, beside the settings (never in workspace/configuration)."""

    # The editor reviews an ORPS edit itself when workspace/applyEdit arrives (the VS Code extension):
    # send it without asking Apply / Show diff / Discard first.
    review_edits: bool = False
    # The editor shows orps/progress (contract.SearchProgress: a search's state as data, beside
    # $/progress); other editors are not sent a notification they do not know.
    search_progress: bool = False
    # The editor offers the fix of a message by its code (contract.Problem, orps/problem) instead of
    # reading window/showMessage's text.
    problem_codes: bool = False


# As the editor spells them -> EditorOptions field.
_EDITOR_OPTIONS = {"reviewEdits": "review_edits", "searchProgress": "search_progress", "problemCodes": "problem_codes"}


def _initialization_section(options: Any) -> dict[str, Any]:
    """initializationOptions may hold the settings flat or under "orps" (the editor's own options left out)."""
    if isinstance(options, dict):
        inner = options.get(SECTION)
        if isinstance(inner, dict):
            return inner
        return {key: value for key, value in options.items() if key not in _EDITOR_OPTIONS}
    return {}


def _editor_options(options: Any) -> tuple[EditorOptions, list[str]]:
    """The editor's own options from the top level of initializationOptions -> (options, problems)."""
    values: dict[str, bool] = {}
    problems = []
    for key, name in _EDITOR_OPTIONS.items():
        value = options.get(key) if isinstance(options, dict) else None
        if value is None:
            continue
        if isinstance(value, bool):
            values[name] = value
        else:
            problems.append(f"invalid initialization option {key} = {value!r}: expected true or false; using false")
    return EditorOptions(**values), problems


def build_server() -> OrpsLanguageServer:
    server = OrpsLanguageServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: OrpsLanguageServer, params: types.InitializeParams) -> None:
        ls.editor.bind_loop()
        ls.editor.name = params.client_info.name if params.client_info else "unknown"
        ls.initialization_options = _initialization_section(params.initialization_options)
        ls.editor_options, problems = _editor_options(params.initialization_options)
        ls.commands.review_edits = ls.editor_options.review_edits
        ls.commands.search_progress = ls.editor_options.search_progress
        ls.editor.problem_codes = ls.editor_options.problem_codes
        for problem in problems:
            ls.editor.show_message(f"ORPS: {problem}", types.MessageType.Warning, Problem.SETTINGS)
        ls.apply_settings(ls.initialization_options)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: OrpsLanguageServer, params: types.InitializedParams) -> None:
        await ls.pull_settings()
        workspace = ls.client_capabilities.workspace
        change = workspace.did_change_configuration if workspace else None
        if change and change.dynamic_registration:
            # Pull-model editors send didChangeConfiguration only to servers that ask for it.
            try:
                await ls.client_register_capability_async(
                    types.RegistrationParams(
                        registrations=[types.Registration(id=str(uuid.uuid4()), method=types.WORKSPACE_DID_CHANGE_CONFIGURATION)]
                    )
                )
            except Exception as exc:
                log.debug("didChangeConfiguration registration refused: %s", exc)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: OrpsLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        pushed = params.settings.get(SECTION) if isinstance(params.settings, dict) else None
        if isinstance(pushed, dict) and not ls.editor.supports_configuration():
            ls.apply_settings(merge(ls.initialization_options, pushed))
            ls.check_model()
        else:
            await ls.pull_settings()

    @server.feature(types.SHUTDOWN)
    def on_shutdown(ls: OrpsLanguageServer, params: None) -> None:
        ls.jobs.shutdown()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: OrpsLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.show_results(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: OrpsLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.show_results(params.text_document.uri, refresh_lenses=False)  # editors re-ask for lenses after a change

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[REWRITE, QUICKFIX]))
    def code_action(ls: OrpsLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        document, source = ls.text_of(params.text_document.uri)
        if source is None:
            return []
        line, only = params.range.start.line, params.context.only
        return code_actions(document.uri, source, document.version, line, only) + regression_test_actions(
            ls.store, ls.workspace, document.uri, source, line, only
        )

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: OrpsLanguageServer, params: types.HoverParams) -> types.Hover | None:
        document, source = ls.text_of(params.text_document.uri)
        return hover(ls.store, document.uri, source, params.position.line) if source is not None else None

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def code_lens(ls: OrpsLanguageServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        document, source = ls.text_of(params.text_document.uri)
        if source is None:
            return []
        path = str(Path(document.path).resolve()) if document.path else None
        running = {job.function for job in ls.jobs.active() if job.key[0] == path}
        return code_lenses(
            ls.store,
            document.uri,
            source,
            running,
            lambda info: target_arguments(document.uri, info.def_line - 1, None, info.qualname),
        )

    @server.command(OPTIMIZE)
    async def optimize(ls: OrpsLanguageServer, *arguments: Any) -> dict[str, Any]:
        return await ls.cancellable(ls.commands.search(arguments, "optimize"))

    @server.command(SOLVE)
    async def solve(ls: OrpsLanguageServer, *arguments: Any) -> dict[str, Any]:
        return await ls.cancellable(ls.commands.search(arguments, "solve"))

    @server.command(CANCEL)
    def cancel(ls: OrpsLanguageServer, *arguments: Any) -> dict[str, Any]:
        return ls.commands.cancel(arguments)

    @server.command(GET_REPORT)
    def get_report(ls: OrpsLanguageServer, *arguments: Any) -> dict[str, Any] | None:
        return ls.commands.get_report(arguments)

    @server.command(DEBUG_INFO)
    async def debug_info(ls: OrpsLanguageServer, *arguments: Any) -> dict[str, Any]:
        return await ls.commands.debug_info()

    return server


def serve(*, stdio: bool = True, host: str = "127.0.0.1", port: int = 2087) -> None:
    # stdout carries the protocol over stdio: our own logs go to stderr and the editor's log.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="orps-lsp %(levelname)s %(name)s: %(message)s")
    server = build_server()
    orps_logger = logging.getLogger("orps_lsp")
    orps_logger.addHandler(server.log_handler)
    orps_logger.propagate = False  # the editor's log is enough; stderr keeps pygls' own problems
    orps_logger.setLevel(server.settings.logging_level)

    def terminate(signum: int, frame: Any) -> None:
        # Kill the searches' test processes, then leave at once: a clean unwind would
        # wait forever for pygls' thread blocked reading stdin.
        server.jobs.shutdown()
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    if stdio:
        server.start_io()
    else:
        server.start_tcp(host, port)
