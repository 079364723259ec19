"""The language server with a remote model server: the health check on start and on
settings change, its messages, the apiKey setting, and the backend in orps.debugInfo.

The real `orps-lsp --stdio` is driven by pytest-lsp (lsp_fixtures/harness.py).
The servers: a closed port, the scripted stub of test_http_backend.py (for
API keys), and llama-cpp-python's real server (the `llama_server` fixture in
conftest.py, marked real_model).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from conftest import closed_port
from lsprotocol import types
from test_http_backend import FAST_BODY, Stub, _StubHandler, answer

from orps_lsp.lsp.model_loading import ModelHolder
from orps_lsp.model.base import ModelError
from orps_lsp.lsp.settings import Settings, parse_settings
from lsp_fixtures.harness import QUICK, SimulatedEditor, copy_example, editor_session, line_of, target, wait_until

pytestmark = pytest.mark.timeout(120)

SECRET = "sk-orps-test-0123456789"
NO_ENV = {"ORPS_ENDPOINT": "", "ORPS_API_KEY": ""}  # the settings alone decide


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path)


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.shutdown()
    server.server_close()


def problems(editor: SimulatedEditor) -> list[str]:
    """The Error and Warning messages shown so far."""
    return [m.message for m in editor.messages if m.type in (types.MessageType.Error, types.MessageType.Warning)]


async def connected(editor: SimulatedEditor, known_problems: int = 0, timeout: float = 60.0) -> dict:
    """orps.debugInfo once the server has connected to its model server, with no problem told
    beyond the first `known_problems`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await editor.command("orps.debugInfo")
        assert len(problems(editor)) == known_problems, problems(editor)
        if info["model"].get("loaded"):
            return info
        await asyncio.sleep(0.1)
    raise AssertionError(f"not connected after {timeout:.0f} s")


def everything_said(editor: SimulatedEditor) -> str:
    return "\n".join([m.message for m in editor.messages] + [m.message for m in editor.log_messages])


# ----------------------------------------------------------------- settings
def test_api_key_setting_is_never_shown() -> None:
    settings, issues = parse_settings({"endpoint": "http://gpu-box:8080/v1", "apiKey": SECRET})
    assert settings.api_key == SECRET and not issues
    assert settings.to_editor_dict()["apiKey"] == "(set, hidden)" and Settings().to_editor_dict()["apiKey"] is None
    assert SECRET not in repr(settings) and SECRET not in json.dumps(settings.to_editor_dict())
    assert settings.model_key() != parse_settings({"endpoint": "http://gpu-box:8080/v1"})[0].model_key()  # a new key reconnects
    _, issues = parse_settings({"apiKey": 12345})
    assert len(issues) == 1 and "12345" not in issues[0] and "orps.apiKey" in issues[0]


def test_a_replaced_remote_model_is_closed(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORPS_SCRIPTED_MODEL", raising=False)
    monkeypatch.delenv("ORPS_ENDPOINT", raising=False)
    busy = [False]
    holder = ModelHolder(busy=lambda: busy[0])
    first = Settings(endpoint=stub.url)
    assert holder.refresh(first) is None
    model = holder.get(first, say=lambda message: None)
    assert holder.describe()["loaded"] and holder.describe()["backend"] == "OpenAI-compatible HTTP"
    assert holder.refresh(first) is None and holder.get(first, say=lambda message: None) is model  # unchanged: kept

    busy[0] = True  # a search still holds the model: closed once it ends
    assert (
        holder.refresh(Settings(endpoint=stub.url, remote_model="nope"))
        == f"the model server at {stub.url} has no model named 'nope'; it serves: stub-model"
    )
    assert not model._loop.closed
    info = holder.describe()
    assert not info["loaded"] and info["endpoint"] == stub.url and "no model named 'nope'" in info["problem"]
    busy[0] = False
    deadline = time.monotonic() + 5
    while not model._loop.closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert model._loop.closed

    assert holder.refresh(Settings()) is None  # back to the local model: it loads at the first search
    assert holder.describe()["backend"] == "llama-cpp-python (in process)"
    holder.close()


@pytest.mark.real_model
def test_a_replaced_local_model_is_freed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORPS_SCRIPTED_MODEL", raising=False)
    monkeypatch.delenv("ORPS_ENDPOINT", raising=False)
    holder = ModelHolder()
    local = Settings(context_size=1024, threads=2)
    assert holder.refresh(local) is None and not holder.describe()["loaded"]  # a local model waits for a search
    model = holder.get(local, say=lambda message: None)
    assert holder.describe()["backend"] == "llama-cpp-python (in process)"
    problem = holder.refresh(Settings(endpoint=f"http://127.0.0.1:{closed_port()}/v1"))
    assert problem is not None and "cannot reach" in problem
    with pytest.raises(ModelError, match="the model was closed"):  # freed, and safe to call by mistake
        model.chat([{"role": "user", "content": "hi"}], max_tokens=2)


# ------------------------------------------------------ through the server
@pytest.mark.asyncio
async def test_unreachable_server_is_told_on_start_and_on_change(project: Path) -> None:
    first = f"http://127.0.0.1:{closed_port()}/v1"
    async with editor_session(project, answers=None, configuration={"endpoint": first}, env=NO_ENV) as editor:
        await wait_until(lambda: problems(editor), what="the unreachable message")
        [message] = editor.messages
        assert message.type == types.MessageType.Error
        assert (
            message.message.startswith(f"ORPS: cannot reach the model server at {first}") and "is it running?" in message.message
        )
        info = await editor.command("orps.debugInfo")
        assert info["model"]["backend"] == "OpenAI-compatible HTTP" and not info["model"]["loaded"]
        assert "cannot reach" in info["model"]["problem"]

        editor.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))  # nothing changed
        second = f"http://127.0.0.1:{closed_port()}/v1"
        editor.set_configuration({"endpoint": second}, section="orps")
        editor.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        await wait_until(lambda: len(problems(editor)) == 2, what="the second unreachable message")
        assert second in problems(editor)[1] and len(problems(editor)) == 2


@pytest.mark.asyncio
async def test_api_key_from_settings_is_used_and_never_shown(project: Path, stub: Stub) -> None:
    stub.api_key = SECRET
    settings = {"endpoint": stub.url, "apiKey": "wrong-key", "logLevel": "debug"}
    async with editor_session(project, answers=None, configuration=settings, env=NO_ENV) as editor:
        await wait_until(lambda: problems(editor), what="the auth message")
        assert "rejected the API key (HTTP 401: Invalid API key)" in problems(editor)[0]

        editor.set_configuration({**settings, "apiKey": SECRET}, section="orps")
        editor.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        info = await connected(editor, known_problems=1)
        assert info["model"]["api_key"] == "set" and info["settings"]["apiKey"] == "(set, hidden)"
        assert SECRET not in json.dumps(info) and SECRET not in everything_said(editor)
        assert "wrong-key" not in everything_said(editor)


@pytest.mark.asyncio
async def test_search_uses_the_checked_connection(project: Path, stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    stub.api_key = SECRET
    critic, programmer = answer(" Fine.\nScore: 5\nDone: yes"), answer(FAST_BODY)
    stub.default = lambda handler, body: (critic if body["messages"][-1]["content"] == "Critique:" else programmer)(handler, body)
    listed = []
    list_models = _StubHandler.do_GET

    def counting_get(handler: _StubHandler) -> None:
        listed.append(handler.path)
        list_models(handler)

    monkeypatch.setattr(_StubHandler, "do_GET", counting_get)
    settings = {**QUICK, "endpoint": stub.url, "apiKey": SECRET}
    async with editor_session(project, answers=None, configuration=settings, env=NO_ENV) as editor:
        await connected(editor)
        uri = editor.open(project / "slowmath.py")
        result = await editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range")))
        assert result["status"] == "applied", (result, editor.messages_text())
        assert listed == ["/v1/models"]  # checked once, at the start: the search reused that connection
        assert stub.chats and all(chat["model"] == "stub-model" for chat in stub.chats)


@pytest.mark.real_model
@pytest.mark.asyncio
async def test_wrong_model_name_on_llama_cpp_server(project: Path, llama_server: str) -> None:
    async with editor_session(
        project, answers=None, configuration={"endpoint": llama_server, "remoteModel": "gpt-4"}, env=NO_ENV
    ) as editor:
        await wait_until(lambda: problems(editor), timeout=60, what="the wrong-model message")
        [message] = problems(editor)
        assert f"ORPS: the model server at {llama_server} has no model named 'gpt-4'; it serves: " in message
        assert message.endswith("qwen2.5-coder-0.5b.gguf")


@pytest.mark.real_model
@pytest.mark.asyncio
async def test_llama_cpp_server_connects_and_debug_info_shows_it(project: Path, llama_server: str) -> None:
    settings = {"endpoint": llama_server, "apiKey": SECRET, "parallel": 2}
    async with editor_session(project, answers=None, configuration=settings, env=NO_ENV) as editor:
        info = await connected(editor)
        model = info["model"]
        assert model["backend"] == "OpenAI-compatible HTTP" and model["endpoint"] == llama_server
        assert model["model"].endswith("qwen2.5-coder-0.5b.gguf") and model["max_parallel"] == 2
        assert model["prefill"].startswith("the server starts a new turn")  # probed at the check
        assert SECRET not in json.dumps(info) and info["settings"]["apiKey"] == "(set, hidden)"
        assert not problems(editor)
