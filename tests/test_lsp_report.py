"""orps.getReport and initializationOptions.reviewEdits, on the real `orps-lsp --stdio` (pytest-lsp).

What the VS Code extension asks of the server: the search report page of a
function (the one `orps-lsp optimize --report` writes), and, since the
extension shows the diff and asks Apply / Discard itself when the edit
arrives, an edit sent without the server's own question first.
Searches use the scripted model on a copy of examples/slowmath.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from lsp_fixtures.harness import FAST_HAS_DUPLICATES, QUICK, copy_example, editor_session, line_of, target, write_answers
from orps_lsp.contract import edit_label

pytestmark = [pytest.mark.timeout(120), pytest.mark.asyncio]

DISCARDED_IN_REVIEW = "discarded in the review"  # client-vscode/src/review.ts DISCARDED
TWO_CANDIDATES = {**QUICK, "expansions": 2}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path)


def drawn_nodes(html: str) -> list[str]:
    """The data-node keys of the boxes in the page's search tree."""
    return re.findall(r'<g class="node[^"]*" data-node="([^"]+)"', html)


async def test_review_edits_sends_the_edit_unasked_then_the_report(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES])
    init = {"orps": TWO_CANDIDATES, "reviewEdits": True}  # as client-vscode/src/client.ts sends them
    async with editor_session(project, answers=answers, init_options=init) as editor:
        uri = editor.open(project / "slowmath.py")
        assert await editor.command("orps.getReport", {"uri": uri, "function": "has_duplicates"}) is None  # not searched yet

        result = await editor.command("orps.optimize", target(uri, line_of(editor.text(uri), "for i in range"), version=1))
        assert result["status"] == "applied", (result, editor.messages_text())
        assert not editor.questions  # the editor reviews the edit itself: no Apply / Show diff / Discard
        [edit] = editor.edits
        assert edit.label == edit_label("has_duplicates") and edit.edit.document_changes[0].text_document.version == 1
        assert "len(set(items)) != len(items)" in editor.text(uri)
        assert "unknown setting" not in editor.messages_text()

        answer = await editor.command("orps.getReport", {"uri": uri, "function": "has_duplicates"})
        assert answer["function"] == "has_duplicates"
        html = answer["html"]
        assert html.startswith("<!DOCTYPE html>") and html.count("<script>") == 1  # the extension stamps it with a nonce
        assert "<title>ORPS optimize: has_duplicates</title>" in html
        nodes = drawn_nodes(html)
        assert sorted(nodes) == ["0", "1", "original"], nodes  # the original and the two candidates of the one round
        assert re.search(r'class="node [^"]*\bbest\b[^"]*" data-node="\d+"', html)  # the chosen candidate
        # The same page by position: the function holding the cursor, in the text as it is now.
        by_position = await editor.command("orps.getReport", target(uri, line_of(editor.text(uri), "len(set(items))")))
        assert by_position == answer

        # Functions and documents without a report: null.
        text = editor.text(uri)
        assert await editor.command("orps.getReport", {"uri": uri, "function": "fib"}) is None
        assert await editor.command("orps.getReport", target(uri, line_of(text, "return fib"))) is None
        assert await editor.command("orps.getReport", target(uri, 0)) is None  # outside any function
        other = editor.open(project / "weak.py")
        assert await editor.command("orps.getReport", target(other, line_of(editor.text(other), "if n < 0"))) is None

        info = await editor.command("orps.debugInfo")
        assert info["client"]["reviewEdits"] is True


async def test_get_report_bad_arguments_are_one_invalid_params_error(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES])
    async with editor_session(project, answers=answers, init_options=QUICK) as editor:
        uri = editor.open(project / "slowmath.py")
        for arguments, problem in [
            ((), "expected one argument"),
            (("file:///x.py",), "expected one argument"),
            (({"uri": 7, "function": "f"},), "expected one argument"),
            (({"uri": uri},), "expected a position"),
            (({"uri": uri, "position": {"line": "one"}},), "position must be"),
            (({"uri": uri, "position": 3, "range": "r"},), "position must be"),
        ]:
            shown = len(editor.messages)
            with pytest.raises(JsonRpcInvalidParams) as error:
                await editor.command("orps.getReport", *arguments)
            assert error.value.code == -32602, arguments
            assert error.value.message.startswith(f"orps.getReport: {problem}"), (arguments, error.value.message)
            assert "Traceback" not in error.value.message
            assert editor.messages[shown:] == []  # the editor shows the error; the server adds no message
        info = await editor.command("orps.debugInfo")  # still serving
        assert info["client"]["reviewEdits"] is False


async def test_discarded_in_the_editors_review_is_no_failure(project: Path, tmp_path: Path) -> None:
    answers = write_answers(tmp_path / "answers.json", [FAST_HAS_DUPLICATES])
    async with editor_session(project, answers=answers, init_options={**QUICK, "reviewEdits": True}) as editor:  # flat form
        uri = editor.open(project / "slowmath.py")
        before = editor.text(uri)
        reviewed: list[types.ApplyWorkspaceEditParams] = []

        def discard(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            reviewed.append(params)
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason=DISCARDED_IN_REVIEW)

        editor.apply_workspace_edit = discard  # type: ignore[method-assign]  # what review.ts answers on Discard
        result = await editor.command("orps.optimize", target(uri, line_of(before, "for i in range")))
        assert result["status"] == "discarded", result
        assert editor.search_progress == []  # orps/progress only for an editor that asks (initializationOptions.searchProgress)
        assert len(reviewed) == 1 and not editor.questions and editor.text(uri) == before
        assert not [m for m in editor.messages if m.type in (types.MessageType.Warning, types.MessageType.Error)], (
            editor.messages_text()
        )
        # The report is kept all the same: the user may read it before deciding to search again.
        assert (await editor.command("orps.getReport", {"uri": uri, "function": "has_duplicates"}))[
            "function"
        ] == "has_duplicates"


async def test_review_edits_must_be_a_boolean(project: Path) -> None:
    async with editor_session(project, answers=None, init_options={"orps": QUICK, "reviewEdits": "yes"}) as editor:
        info = await editor.command("orps.debugInfo")
        assert info["client"]["reviewEdits"] is False
        assert "reviewEdits" in editor.messages_text() and "'yes'" in editor.messages_text()
