"""End-to-end tests of the language server: the real `orps-lsp --stdio` driven by pytest-lsp.

Searches use the scripted model (ORPS_SCRIPTED_MODEL) on a copy of
examples/slowmath, and run the project's real tests in the real sandbox.
One test (marked real_model) runs the embedded GGUF model at a tiny budget.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from lsprotocol import types

from orps_lsp.contract import edit_label
from orps_lsp.lsp.edits import apply_edits, minimal_edit
from orps_lsp.lsp.settings import Settings, parse_settings
from lsp_fixtures.harness import (
    FAST_HAS_DUPLICATES,
    INFINITE_LOOP,
    QUICK,
    copy_example,
    editor_session,
    line_of,
    server_children,
    target,
    wait_until,
    write_answers,
)

pytestmark = pytest.mark.timeout(180)


def test_minimal_edit_replaces_only_the_changed_lines() -> None:
    old = "a\nb\nc\nd\n"
    edit = minimal_edit(old, "a\nB\nC\nd\n")
    assert (edit.range.start.line, edit.range.end.line, edit.new_text) == (1, 3, "B\nC\n")
    assert minimal_edit(old, old) is None
    # Form feeds stay inside a line for editors; emoji count two UTF-16 units.
    for before, after in [
        ("x\x0cy\nz", "x\x0cy\nZ"),
        ("a\n😀b", "a\n😀c"),
        ("a\r\nb", "a\r\nc\r\n"),
        ("", "new\n"),
        ("gone\n", ""),
    ]:
        assert apply_edits(before, [minimal_edit(before, after)]) == after


def test_settings_parse_with_defaults_for_bad_values() -> None:
    settings, problems = parse_settings(
        {
            "beamWidth": 4,
            "depth": 0,
            "gpuLayers": None,
            "alpha": True,
            "testPaths": "tests",
            "logLevel": "DEBUG",
            "trace": {"server": "off"},
            "colour": "blue",
        }
    )
    assert (settings.beam_width, settings.depth, settings.gpu_layers, settings.alpha) == (
        4,
        Settings().depth,
        None,
        Settings().alpha,
    )
    assert (settings.test_paths, settings.log_level) == (("tests",), "debug")
    assert len(problems) == 3 and any("orps.depth" in p for p in problems) and any("colour" in p for p in problems)
    config, limits = settings.search_config(), settings.sandbox_limits()
    assert config.beam_width == 4 and not config.validate() and limits.per_test_timeout == settings.test_timeout
    assert parse_settings({"alpha": 0, "beta": 0})[0].alpha > 0
    remote, problems = parse_settings({"endpoint": "http://gpu-box:8080/v1", "remoteModel": "qwen", "parallel": 0})
    assert (remote.endpoint, remote.remote_model, remote.parallel) == ("http://gpu-box:8080/v1", "qwen", Settings().parallel)
    assert remote.model_key() != Settings().model_key() and len(problems) == 1
    assert not parse_settings({"endpoint": "gpu-box:8080"})[1]  # what the backend takes (http://gpu-box:8080/v1), as the CLI
    assert "is not an http(s) URL" in parse_settings({"endpoint": "ftp://gpu-box:8080"})[1][0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path)


def passes_tests(project: Path, test_file: str) -> bool:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return run.returncode == 0


def progress_kinds(values: list) -> list[str]:
    return [type(v).__name__ for v in values]


@pytest.mark.asyncio
async def test_code_actions_are_listed_without_running_anything(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES])
    async with editor_session(project, answers=answers) as editor:
        uri = editor.open(project / "slowmath.py")
        text = editor.text(uri)

        async def titles(line: int, only: list[str] | None = None) -> list[str]:
            actions = await editor.code_actions(uri, line, only)
            for action in actions:
                assert action["kind"] == "refactor.rewrite"
                assert action["command"]["command"] in ("orps.optimize", "orps.solve")
                assert action["command"]["arguments"][0]["uri"] == uri
            return [a["title"] for a in actions]

        assert await titles(line_of(text, "for i in range")) == ["Optimize with ORPS: has_duplicates"]
        assert await titles(line_of(text, "raise NotImplementedError")) == ["Solve with ORPS: is_palindrome"]
        assert await titles(0) == []  # the module docstring: outside any function
        assert await titles(line_of(text, "return fib"), only=[types.CodeActionKind.Refactor]) == ["Optimize with ORPS: fib"]
        assert await titles(line_of(text, "return fib"), only=[types.CodeActionKind.QuickFix]) == []
        assert not editor.progress_reports and not editor.edits  # listing ran nothing

        outside = await editor.command("orps.optimize", target(uri, 0))
        assert outside["status"] == "no function"
        editor.change(uri, text + "\ndef broken(:\n")
        assert await titles(line_of(text, "for i in range")) == []  # mid-edit text: no actions, no error
        broken = await editor.command("orps.optimize", target(uri, line_of(text, "for i in range")))
        assert broken["status"] == "error" and "syntax error" in broken["message"]
        assert not editor.progress_reports


@pytest.mark.asyncio
async def test_optimize_applies_a_versioned_edit_then_hover_and_lens(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES])
    async with editor_session(project, answers=answers, configuration=QUICK, init_options={"searchProgress": True}) as editor:
        uri = editor.open(project / "slowmath.py")
        line = line_of(editor.text(uri), "for i in range")
        result = await editor.command("orps.optimize", target(uri, line, version=1))

        assert result["status"] == "applied", (result, editor.messages_text())
        values = editor.progress_values()
        kinds = progress_kinds(values)
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd" and "WorkDoneProgressReport" in kinds
        assert values[0].cancellable and values[0].title == "ORPS: optimize has_duplicates"
        reports = [v.message for v in values if isinstance(v, types.WorkDoneProgressReport)]
        assert any(m.startswith("round 1/1 - candidate 1/1") for m in reports), reports
        assert "improved" in values[-1].message
        # The same progress as data (orps/progress), with the bar's token: what a client shows without reading text.
        states = [p if isinstance(p, dict) else p._asdict() for p in editor.search_progress]  # pygls: a namedtuple
        [token] = editor.progress_reports
        assert states and {s["token"] for s in states} == {token} and {s["function"] for s in states} == {"has_duplicates"}
        phases = [s["phase"] for s in states]
        assert phases[-1] == "done" and "execute" in phases, phases
        running = next(s for s in states if s["phase"] == "execute")
        assert (running["round"], running["rounds"], running["mode"]) == (1, 1, "optimize") and running["candidates"] >= 1

        [question] = editor.questions
        assert [a.title for a in question.actions] == ["Apply", "Show diff", "Discard"]
        [edit] = editor.edits
        assert edit.label == edit_label("has_duplicates")
        [document_edit] = edit.edit.document_changes
        assert document_edit.text_document.version == 1
        text = editor.text(uri)
        assert "len(set(items)) != len(items)" in text and "for j in range" not in text
        assert "def fib(n):" in text and "raise NotImplementedError" in text  # the rest is untouched
        (project / "slowmath.py").write_text(text)
        assert passes_tests(project, "tests/test_duplicates.py")

        hover = await editor.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line_of(text, "len(set"), character=8),
            )
        )
        assert hover is not None and hover.contents.kind == types.MarkupKind.Markdown
        for expected in (
            "has_duplicates",
            "6/6",
            "Speed-up",
            "peak memory",
            "cyclomatic complexity",
            "critic (5/5)",
            "candidates tried",
            "scripted",
        ):
            assert expected in hover.contents.value, expected

        lenses = await editor.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        [lens] = lenses
        assert lens.command.title.startswith("ORPS: 6/6 tests - ") and "x faster - 1 candidate" in lens.command.title
        assert lens.command.command == "orps.optimize" and lens.command.arguments[0]["function"] == "has_duplicates"
        assert lens.range.start.line == line_of(text, "def has_duplicates")
        assert editor.lens_refreshes >= 1


@pytest.mark.asyncio
async def test_a_document_edited_during_the_search_gets_nothing(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES], delay=1.5)
    async with editor_session(project, answers=answers, configuration=QUICK) as editor:
        uri = editor.open(project / "slowmath.py")
        search = asyncio.ensure_future(editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range"))))
        await wait_until(lambda: editor.progress_values(), what="progress begin")
        edited = editor.text(uri).replace("def fib(n):", "def fib(n):  # edited meanwhile")
        editor.change(uri, edited)
        result = await search

        assert result["status"] == "stale", result
        assert not editor.edits and not editor.questions
        assert editor.text(uri) == edited
        assert "has_duplicates" in editor.messages_text()  # the user is told, of that function (the status says what)


@pytest.mark.asyncio
async def test_cancel_from_the_progress_bar_kills_the_test_processes(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [INFINITE_LOOP])
    settings = {**QUICK, "testTimeout": 120, "runTimeout": 120}
    async with editor_session(project, answers=answers, configuration=settings) as editor:
        uri = editor.open(project / "slowmath.py")
        search = asyncio.ensure_future(editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range"))))
        await wait_until(
            lambda: any("running tests" in (getattr(v, "message", "") or "") for v in editor.progress_values()),
            what="the candidate's test run",
        )
        await asyncio.sleep(1.0)  # the looping candidate is inside pytest now
        assert server_children(editor), "expected a sandboxed pytest process"
        [token] = editor.progress_reports
        editor.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        result = await asyncio.wait_for(search, 30)

        assert result["status"] == "cancelled", result
        assert progress_kinds(editor.progress_values())[-1] == "WorkDoneProgressEnd"
        assert editor.progress_values()[-1].message == "cancelled"
        await wait_until(lambda: not server_children(editor), timeout=10, what="no child process left")
        assert not editor.edits


@pytest.mark.asyncio
async def test_terminating_the_server_kills_the_test_processes(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [INFINITE_LOOP])
    async with editor_session(project, answers=answers, configuration={**QUICK, "testTimeout": 120, "runTimeout": 120}) as editor:
        uri = editor.open(project / "slowmath.py")
        search = asyncio.ensure_future(editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range"))))
        await wait_until(
            lambda: any("running tests" in (getattr(v, "message", "") or "") for v in editor.progress_values()),
            what="the candidate's test run",
        )
        children = await wait_until(lambda: server_children(editor), what="a sandboxed pytest process")
        editor._server.terminate()  # SIGTERM, as an editor that gives up on the server
        await asyncio.wait_for(editor._server.wait(), 15)
        await wait_until(
            lambda: not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children),
            timeout=10,
            what="the test processes to be gone",
        )
        with pytest.raises((RuntimeError, ConnectionError, asyncio.TimeoutError)):  # the request dies with the server
            await asyncio.wait_for(search, 10)


@pytest.mark.asyncio
async def test_cancel_request_stops_the_search(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES], delay=30)
    async with editor_session(project, answers=answers, configuration=QUICK) as editor:
        uri = editor.open(project / "slowmath.py")
        search = asyncio.ensure_future(
            editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range")), msg_id="search-1")
        )
        await wait_until(lambda: len(editor.progress_values()) >= 2, what="the search to start")
        editor.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="search-1"))
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(search, 20)
        await wait_until(
            lambda: progress_kinds(editor.progress_values())[-1] == "WorkDoneProgressEnd", timeout=10, what="progress end"
        )
        await wait_until(lambda: not server_children(editor), timeout=10, what="no child process left")
        # The server keeps answering, and the function can be searched again.
        debug = await editor.command("orps.debugInfo")
        assert debug["searches"] == []


@pytest.mark.asyncio
async def test_one_search_per_function_and_a_queue_for_others(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES], delay=30)
    async with editor_session(project, answers=answers, configuration=QUICK) as editor:
        uri = editor.open(project / "slowmath.py")
        text = editor.text(uri)
        first = asyncio.ensure_future(editor.command("orps.optimize", target(uri, line_of(text, "for i in range"))))
        await wait_until(lambda: editor.progress_values(), what="the first search")
        again = await editor.command("orps.optimize", target(uri, line_of(text, "for j in range")))
        assert again["status"] == "already running"
        assert "has_duplicates" in editor.messages_text()

        other = asyncio.ensure_future(editor.command("orps.optimize", target(uri, line_of(text, "return fib"))))
        await wait_until(
            lambda: any("queued" in (getattr(v, "message", "") or "") for v in editor.progress_values()),
            what="a queued progress message",
        )
        # Hover, code actions and lenses answer while the worker is busy.
        lenses = await editor.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        assert [lens.command.title for lens in lenses] == ["ORPS: searching... (click to cancel)"] * 2
        debug = await editor.command("orps.debugInfo")
        assert [(s["function"], s["state"]) for s in debug["searches"]] == [("has_duplicates", "running"), ("fib", "queued")]

        cancelled = await editor.command("orps.cancel")
        assert sorted(cancelled["cancelled"]) == ["fib", "has_duplicates"]
        results = await asyncio.wait_for(asyncio.gather(first, other), 20)
        assert [r["status"] for r in results] == ["cancelled", "cancelled"]


@pytest.mark.asyncio
async def test_weak_tests_get_a_diagnostic_and_nothing_better_a_message(project: Path, tmp_path: Path) -> None:
    # The has_duplicates answer does not fit classify: every candidate fails, nothing is offered.
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES])
    async with editor_session(project, answers=answers, configuration=QUICK) as editor:
        uri = editor.open(project / "weak.py")
        result = await editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "if n < 0")))

        assert result["status"] == "nothing better", result
        assert not editor.edits
        assert "classify" in editor.messages_text() and result["verdict"] in editor.messages_text()
        [diagnostic] = await wait_until(lambda: editor.diagnostics.get(uri), what="diagnostics")
        assert diagnostic.severity == types.DiagnosticSeverity.Information and diagnostic.code == "weak-tests"
        assert diagnostic.range.start.line == line_of(editor.text(uri), "def classify")


@pytest.mark.asyncio
async def test_settings_are_read_reported_once_and_reloaded(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES])
    init = {"orps": {"beamWidth": "wide", "depth": 2}}
    async with editor_session(project, answers=answers, init_options=init, configuration={"expansions": 4}) as editor:
        await wait_until(lambda: "beamWidth" in editor.messages_text(), what="the bad setting message")
        assert "'wide'" in editor.messages_text()  # the message names the setting and the value refused
        info = await editor.command("orps.debugInfo")
        assert info["settings"]["beamWidth"] == 2 and info["settings"]["depth"] == 2 and info["settings"]["expansions"] == 4
        assert info["model"]["backend"].startswith("scripted") and "gpu" in info and "sandbox" in info
        assert info["client"]["capabilities"]["window"]["workDoneProgress"] is True

        editor.set_configuration({"expansions": 1, "maxSeconds": -5, "logLevel": "debug", "testPaths": ["tests"]}, section="orps")
        editor.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        await wait_until(lambda: "maxSeconds" in editor.messages_text(), what="the second bad setting")
        editor.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        info = await editor.command("orps.debugInfo")
        settings = info["settings"]
        changed = (settings["expansions"], settings["maxSeconds"], settings["logLevel"], settings["testPaths"])
        assert changed == (1, 300.0, "debug", ["tests"])
        assert settings["depth"] == 2  # initializationOptions still apply underneath
        assert editor.messages_text().count("beamWidth") == 1 and editor.messages_text().count("maxSeconds") == 1


@pytest.mark.asyncio
async def test_neovim_gets_a_plain_edit_and_can_ask_for_the_diff(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES])
    async with editor_session(project, answers=answers, editor="neovim@0.7", init_options=QUICK) as editor:
        uri = editor.open(project / "slowmath.py")
        editor.answers = ["Show diff", "Discard"]
        result = await editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range")))
        assert result["status"] == "discarded", result
        assert [a.title for a in editor.questions[1].actions] == ["Apply", "Discard"]
        assert "+    return len(set(items)) != len(items)" in "\n".join(m.message for m in editor.log_messages)
        assert not editor.edits

        editor.answers = ["Apply"]
        editor.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"orps": {**QUICK, "maxLlmCalls": 5}})
        )
        result = await editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range")))
        assert result["status"] == "applied", result
        [edit] = editor.edits
        assert edit.edit.document_changes is None and list(edit.edit.changes) == [uri]  # 0.7 has no documentChanges
        assert "len(set(items))" in editor.text(uri)
        info = await editor.command("orps.debugInfo")
        assert info["settings"]["maxLlmCalls"] == 5


@pytest.mark.asyncio
async def test_a_model_that_cannot_load_is_one_message(project: Path) -> None:
    async with editor_session(project, answers=None, init_options={**QUICK, "model": str(project / "missing.gguf")}) as editor:
        uri = editor.open(project / "slowmath.py")
        result = await editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range")))
        assert result["status"] == "error" and "model file not found" in result["message"]
        assert editor.messages[-1].type == types.MessageType.Error
        assert "model file not found" in editor.messages[-1].message
        # Still serving.
        actions = await editor.code_actions(uri, line_of(editor.text(uri), "return fib"))
        assert [a["title"] for a in actions] == ["Optimize with ORPS: fib"]


@pytest.mark.real_model
@pytest.mark.timeout(300)
@pytest.mark.asyncio
async def test_real_model_tiny_budget(project: Path) -> None:
    settings = {"maxLlmCalls": 4, "expansions": 2, "depth": 1, "beamWidth": 1, "maxGeneratedTokens": 600, "contextSize": 4096}
    async with editor_session(project, answers=None, init_options=settings) as editor:
        uri = editor.open(project / "slowmath.py")
        result = await editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range")))

        kinds = progress_kinds(editor.progress_values())
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
        assert any("loading model" in (getattr(v, "message", "") or "") for v in editor.progress_values())
        assert result["status"] in ("applied", "nothing better"), result
        if result["status"] == "applied":
            (project / "slowmath.py").write_text(editor.text(uri))
            assert passes_tests(project, "tests/test_duplicates.py")
        else:
            assert not editor.edits and result["verdict"] in editor.messages_text()
        info = await editor.command("orps.debugInfo")
        assert info["model"]["loaded"] is True and info["model"]["model"]


@pytest.mark.asyncio
async def test_a_refused_rewrite_offers_the_missing_test_as_a_code_action(tmp_path: Path) -> None:
    """Weak tests let an order-changing rewrite pass; the oracle refuses it, and the editor
    gets "Add regression test for merge": the test the original passes and the rewrite fails."""
    project = tmp_path / "runs"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    (project / "runs.py").write_text(
        "def merge(runs):\n    out = []\n    for run in runs:\n        out.extend(run)\n    return out\n"
    )
    (project / "tests" / "test_runs.py").write_text(
        "from runs import merge\n\n\ndef test_length():\n    assert len(merge([[2], [1, 2]])) == 3\n"
    )
    sorted_merge = "    return sorted(x for run in runs for x in run)\n```"
    answers = write_answers(tmp_path / "answers.json", [sorted_merge])
    async with editor_session(project, answers=answers, configuration=QUICK) as editor:
        uri = editor.open(project / "runs.py")
        line = line_of(editor.text(uri), "out.extend")
        assert [a["title"] for a in await editor.code_actions(uri, line)] == ["Optimize with ORPS: merge"]
        result = await editor.command("orps.optimize", target(uri, line))
        assert result["status"] == "nothing better" and not editor.edits, result

        actions = await editor.code_actions(uri, line)
        [add] = [a for a in actions if a["title"] == "Add regression test for merge"]
        assert add["kind"] == "quickfix" and "command" not in add
        assert await editor.code_actions(uri, line, only=[types.CodeActionKind.Refactor]) == actions[:1]
        test_file = project / "tests" / "test_runs.py"
        [[test_uri, edits]] = add["edit"]["changes"].items()
        assert test_uri == test_file.resolve().as_uri()
        edited = apply_edits(
            test_file.read_text(),
            [
                types.TextEdit(
                    range=types.Range(start=types.Position(**e["range"]["start"]), end=types.Position(**e["range"]["end"])),
                    new_text=e["newText"],
                )
                for e in edits
            ],
        )
        assert edited.startswith(test_file.read_text().rstrip("\n")) and "def test_merge_keeps_the_behaviour" in edited
        test_file.write_text(edited)
        assert passes_tests(project, "tests/test_runs.py")  # the original passes the new test
        editor.open(test_file)  # the file now holds it: no action offered twice
        assert [a["title"] for a in await editor.code_actions(uri, line)] == ["Optimize with ORPS: merge"]
        (project / "runs.py").write_text("def merge(runs):\n" + sorted_merge.removesuffix("```"))
        assert not passes_tests(project, "tests/test_runs.py")  # ... and the refused rewrite fails it
