"""A simulated editor for end-to-end tests of `orps-lsp --stdio` (pytest-lsp client).

The editor keeps the text of the documents it opened, applies the server's
workspace edits to them the way an editor does (refusing a stale version),
answers showMessageRequest with scripted choices, and records everything.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

from orps_lsp.contract import PROBLEM_NOTIFICATION, PROGRESS_NOTIFICATION
from orps_lsp.lsp.edits import apply_edits

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "slowmath"
SERVER_COMMAND = [sys.executable, "-m", "orps_lsp.cli", "--stdio"]

# Programmer answers continue the prefill, which opened the fence and wrote the signature.
FAST_HAS_DUPLICATES = "    # a set keeps each value once\n    return len(set(items)) != len(items)\n```"
INFINITE_LOOP = "    while True:\n        pass\n```"
GOOD_CRITIC = "Critique: fine\nScore: 5\nDone: yes"

# Settings that keep a scripted search short: one round, one candidate.
QUICK = {"beamWidth": 1, "expansions": 1, "depth": 1}

WEAK_MODULE = '''"""A function whose only test runs half of it."""


def classify(n):
    """Name the size of `n`."""
    if n < 0:
        return "negative"
    if n == 0:
        return "zero"
    if n < 10:
        return "small"
    if n < 100:
        return "medium"
    return "large"
'''
WEAK_TESTS = """from weak import classify


def test_small():
    assert classify(5) == "small"
"""


def copy_example(destination: Path) -> Path:
    """The slowmath example plus a weakly tested module, in a fresh folder."""
    project = destination / "slowmath"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (project / "weak.py").write_text(WEAK_MODULE)
    (project / "tests" / "test_weak.py").write_text(WEAK_TESTS)
    return project


def write_answers(path: Path, programmer: list[str], critic: list[str] | None = None, delay: float = 0.0) -> Path:
    """An ORPS_SCRIPTED_MODEL file (see orps_lsp/lsp/model_loading.py)."""
    path.write_text(json.dumps({"programmer": programmer, "critic": critic or [GOOD_CRITIC], "delaySeconds": delay}))
    return path


def server_environment(answers: Path | None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "server"), env.get("PYTHONPATH")]))
    env.pop("ORPS_SCRIPTED_MODEL", None)
    if answers is not None:
        env["ORPS_SCRIPTED_MODEL"] = str(answers)
    env.update(extra)
    return env


class SimulatedEditor(LanguageClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.documents: dict[str, tuple[int, str]] = {}  # uri -> (version, text)
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.questions: list[types.ShowMessageRequestParams] = []
        self.answers: list[str] = []  # titles picked, in order; empty: "Apply"
        self.lens_refreshes = 0
        self.search_progress: list[Any] = []  # orps/progress params, as received
        self.problems: list[Any] = []  # orps/problem params, as received

    # ------------------------------------------------------------ documents
    def open(self, path: Path) -> str:
        uri = path.resolve().as_uri()
        text = path.read_text()
        self.documents[uri] = (1, text)
        self.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )
        return uri

    def change(self, uri: str, text: str) -> None:
        version = self.documents[uri][0] + 1
        self.documents[uri] = (version, text)
        self.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def text(self, uri: str) -> str:
        return self.documents[uri][1]

    def version_of(self, uri: str) -> int:
        return self.documents[uri][0]

    # ------------------------------------------------------------- requests
    async def command(self, name: str, *arguments: Any, msg_id: str | None = None) -> Any:
        return await self.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(command=name, arguments=list(arguments)), msg_id=msg_id
        )

    async def code_actions(self, uri: str, line: int, only: list[str] | None = None) -> list[dict[str, Any]]:
        """textDocument/codeAction as raw JSON: lsprotocol reads any item with a "command"
        key as a Command, which would lose a CodeAction's kind."""
        position = types.Position(line=line, character=4)
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=position, end=position),
            context=types.CodeActionContext(diagnostics=[], only=only),
        )
        msg_id = f"code-action-{uuid.uuid4()}"
        future = self.protocol.send_request(types.TEXT_DOCUMENT_CODE_ACTION, params, msg_id=msg_id)
        self.protocol._result_types[msg_id] = None  # keep the JSON as sent
        return await asyncio.wrap_future(future) or []

    def progress_values(self) -> list[Any]:
        return [value for values in self.progress_reports.values() for value in values]

    def messages_text(self) -> str:
        return "\n".join(m.message for m in self.messages)

    # ------------------------------------------------------ server requests
    def apply_workspace_edit(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        self.edits.append(params)
        changes: list[tuple[str, int | None, list[types.TextEdit]]] = []
        if params.edit.document_changes:
            changes = [(c.text_document.uri, c.text_document.version, list(c.edits)) for c in params.edit.document_changes]
        for uri, edits in (params.edit.changes or {}).items():
            changes.append((uri, None, list(edits)))
        for uri, version, _ in changes:
            if version is not None and version != self.version_of(uri):
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason=f"version {version} is stale")
        for uri, _, edits in changes:
            self.change(uri, apply_edits(self.text(uri), edits))
        return types.ApplyWorkspaceEditResult(applied=True)

    def answer_question(self, params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
        self.questions.append(params)
        title = self.answers.pop(0) if self.answers else "Apply"
        return types.MessageActionItem(title=title)


def make_editor() -> SimulatedEditor:
    client = SimulatedEditor(converter_factory=default_converter)
    register_lsp_features(client)
    client.feature(types.WORKSPACE_APPLY_EDIT)(lambda params: client.apply_workspace_edit(params))
    client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)(lambda params: client.answer_question(params))
    client.feature(types.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    client.feature(PROGRESS_NOTIFICATION)(lambda params: client.search_progress.append(params))
    client.feature(PROBLEM_NOTIFICATION)(lambda params: client.problems.append(params))

    def count_refresh(params: None) -> None:
        client.lens_refreshes += 1

    client.feature(types.WORKSPACE_CODE_LENS_REFRESH)(count_refresh)
    return client


@asynccontextmanager
async def editor_session(
    project: Path,
    *,
    answers: Path | None,
    editor: str = "visual-studio-code",
    init_options: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[SimulatedEditor]:
    """Start `orps-lsp --stdio`, initialize it as `editor`, and shut it down cleanly."""
    config = ClientServerConfig(
        server_command=SERVER_COMMAND, client_factory=make_editor, server_env=server_environment(answers, **(env or {}))
    )
    client: SimulatedEditor = await config.start()  # type: ignore[assignment]
    if configuration is not None:
        client.set_configuration(configuration, section="orps")
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities(editor),
                root_uri=project.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name=project.name)],
                initialization_options=init_options,
            )
        )
        yield client
    finally:
        try:
            if client._server is not None and client._server.returncode is None:
                await asyncio.wait_for(client.shutdown_session(), 20)
        finally:
            if client._server is not None and client._server.returncode is None:
                client._server.kill()
            await client.stop()


def server_pid(client: SimulatedEditor) -> int:
    assert client._server is not None
    return client._server.pid


def server_children(client: SimulatedEditor) -> list[psutil.Process]:
    """The server's test processes: not the warm worker's own two (bubblewrap and the
    worker it starts), which wait for runs as long as a search lasts."""
    try:
        children = psutil.Process(server_pid(client)).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    worker: set[int] = set()
    for child in children:
        try:
            if child.name() == "bwrap" and "orps_lsp.sandbox.zygote" in child.cmdline():
                worker.add(child.pid)
                worker.update(grandchild.pid for grandchild in child.children())
        except psutil.Error:
            continue
    return [child for child in children if child.pid not in worker]


async def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def target(uri: str, line: int, version: int | None = None) -> dict[str, Any]:
    """The argument of orps.optimize / orps.solve."""
    arguments: dict[str, Any] = {"uri": uri, "position": {"line": line, "character": 4}}
    if version is not None:
        arguments["version"] = version
    return arguments


def line_of(text: str, needle: str) -> int:
    """0-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines()) if needle in line)
