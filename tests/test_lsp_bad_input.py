"""Bad input to the language server: each case gets one clear message of a known
kind (window/showMessage type and text, or the command's result or error), and
nothing is written: the files on disk keep their bytes and no edit reaches the
editor unless the case is one the server supports.

The real `orps-lsp --stdio` runs under pytest-lsp with the scripted model
(ORPS_SCRIPTED_MODEL) on a copy of examples/slowmath; searches run the real
tests in the real sandbox. Cases already covered by test_lsp.py are not
repeated: an edit made during the search (stale), $/cancelRequest during
generation, the progress bar's cancel during the test run, and two requests for
one function in one server ("already running"). Here the other cancel routes
take the other phases, so that every phase and every route is exercised.

A model file that is not a GGUF, or is truncated, fails before any test runs.
The context-window case needs the real model (the scripted one has no window):
it is marked real_model.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from orps_lsp.lsp.arguments import Target, parse_target
from orps_lsp.lsp.failures import INVALID_PARAMS
from lsp_fixtures.harness import (
    FAST_HAS_DUPLICATES,
    GOOD_CRITIC,
    INFINITE_LOOP,
    QUICK,
    SimulatedEditor,
    copy_example,
    editor_session,
    line_of,
    server_children,
    target,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)

# ------------------------------------------------------------------ a module of every shape
PREAMBLE = '''"""Functions of every shape the server is asked about."""

import functools

LIMIT = 10

'''
SHAPES: dict[str, tuple[str, str, str]] = {
    # name: (as written, the scripted answer (continuing the prefilled header), as solved)
    "Counter.total": (
        '''
class Counter:
    """A class whose method is searched."""

    start = 0

    def total(self, items):
        """Sum `items`."""
        raise NotImplementedError

    def size(self, items):
        return len(items)
''',
        '    """Sum `items`."""\n    return sum(items, self.start)\n```',
        '''
class Counter:
    """A class whose method is searched."""

    start = 0

    def total(self, items):
        """Sum `items`."""
        return sum(items, self.start)

    def size(self, items):
        return len(items)
''',
    ),
    "outer": (
        '''

def outer(items):
    """Double each item, with a nested helper (which is wrong)."""
    def inner(item):
        return item * 3
    return [inner(item) for item in items]
''',
        '    """Double each item, with a nested helper."""\n    def inner(item):\n        return item * 2\n'
        "    return [inner(item) for item in items]\n```",
        '''

def outer(items):
    """Double each item, with a nested helper."""
    def inner(item):
        return item * 2
    return [inner(item) for item in items]
''',
    ),
    "square": (
        '''

@functools.lru_cache(maxsize=None)
def square(n):
    """n squared."""
    raise NotImplementedError
''',
        '    """n squared."""\n    return n * n\n```',
        '''

@functools.lru_cache(maxsize=None)
def square(n):
    """n squared."""
    return n * n
''',
    ),
    "double": (
        '''

async def double(n):
    """n + n, later."""
    raise NotImplementedError
''',
        '    """n + n, later."""\n    return n + n\n```',
        '''

async def double(n):
    """n + n, later."""
    return n + n
''',
    ),
}
SHAPE_TESTS = {
    "test_total.py": "from shapes import Counter\n\n\ndef test_total():\n    assert Counter().total([1, 2, 3]) == 6\n",
    "test_outer.py": "from shapes import outer\n\n\ndef test_outer():\n    assert outer([1, 2]) == [2, 4]\n",
    # The decorator must survive the edit: cache_info exists only on the lru_cache wrapper.
    "test_square.py": "from shapes import square\n\n\ndef test_square():\n    assert square(4) == 16\n    assert square.cache_info().hits >= 0\n",
    "test_double.py": "import asyncio\n\nfrom shapes import double\n\n\ndef test_double():\n    assert asyncio.run(double(4)) == 8\n",
}
PALINDROME = "    letters = [c.lower() for c in text if c.isalpha()]\n    return letters == letters[::-1]\n```"


def shapes_module(solved: set[str] = frozenset()) -> str:
    return PREAMBLE + "".join(after if name in solved else before for name, (before, _, after) in SHAPES.items())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = copy_example(tmp_path)
    (project / "shapes.py").write_text(shapes_module())
    for name, text in SHAPE_TESTS.items():
        (project / "tests" / name).write_text(text)
    return project


# ------------------------------------------------------------------ helpers
def snapshot(project: Path) -> dict[str, str]:
    """sha256 of every file of the project (caches aside): 'nothing written' is this unchanged."""
    return {
        str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(project.rglob("*"))
        if path.is_file() and not {"__pycache__", ".pytest_cache"} & set(path.parts)
    }


def answers_file(path: Path, programmer: list[str], *, delay: float = 0.0, load: float = 0.0) -> Path:
    """An ORPS_SCRIPTED_MODEL file; `load` holds the search in the model load (see model/scripted.py)."""
    path.write_text(json.dumps({"programmer": programmer, "critic": [GOOD_CRITIC], "delaySeconds": delay, "loadSeconds": load}))
    return path


def orps_messages(editor: SimulatedEditor) -> list[types.ShowMessageParams]:
    return [m for m in editor.messages if m.message.startswith("ORPS")]


def the_message(editor: SimulatedEditor, kind: types.MessageType, *parts: str) -> str:
    """The one ORPS showMessage of the session: its type is `kind` and it says each of `parts`."""
    [message] = orps_messages(editor)
    assert message.type == kind, message
    for part in parts:
        assert part in message.message, (part, message.message)
    return message.message


def line_after(text: str, anchor: str, needle: str) -> int:
    """0-based line of the first line holding `needle` at or after the first line holding `anchor`."""
    lines = text.splitlines()
    start = line_of(text, anchor)
    return next(i for i in range(start, len(lines)) if needle in lines[i])


def messages_of(values: list[Any]) -> list[str]:
    return [getattr(v, "message", None) or "" for v in values]


def assert_nothing_written(editor: SimulatedEditor, project: Path, before: dict[str, str]) -> None:
    assert not editor.edits, editor.edits
    assert not editor.questions
    assert snapshot(project) == before


async def assert_still_serving(editor: SimulatedEditor) -> None:
    await wait_until(lambda: not server_children(editor), timeout=15, what="no test process left")
    info = await editor.command("orps.debugInfo")
    assert info["searches"] == []


# ------------------------------------------------------------------ where the cursor is
@pytest.mark.asyncio
async def test_outside_any_function_no_action_and_the_command_says_where_to_put_the_cursor(project: Path, tmp_path: Path) -> None:
    before = snapshot(project)
    async with editor_session(project, answers=answers_file(tmp_path / "a.json", [FAST_HAS_DUPLICATES])) as editor:
        uri = editor.open(project / "shapes.py")
        text = editor.text(uri)
        outside = [
            0,
            line_of(text, "import functools"),
            line_of(text, "LIMIT = 10"),
            line_of(text, "class Counter"),
            line_of(text, "start = 0"),
            line_of(text, "def outer") - 1,
        ]
        for line in outside:
            assert await editor.code_actions(uri, line) == [], line

        result = await editor.command("orps.optimize", target(uri, line_of(text, "start = 0")))
        assert result == {
            "status": "no function",
            "message": "put the cursor inside a function (module level or a method) to search it",
        }
        the_message(editor, types.MessageType.Info, "ORPS: put the cursor inside a function")
        # A name that is not a function (a class, a constant) falls back to the position: the same answer.
        for name in ("Counter", "LIMIT"):
            result = await editor.command("orps.solve", {**target(uri, 0), "function": name})
            assert result["status"] == "no function", result
        # A malformed argument: a JSON-RPC InvalidParams error saying what is wrong, no message of the server's own, no search.
        shown = len(editor.messages)
        with pytest.raises(JsonRpcInvalidParams) as error:
            await editor.command("orps.optimize", {"position": {"line": 3}})
        assert error.value.code == INVALID_PARAMS == -32602
        assert (
            error.value.message.startswith("orps.optimize: ") and "uri" in error.value.message
        )  # which command, what is missing
        assert editor.messages[shown:] == []
        assert not editor.progress_reports
        assert_nothing_written(editor, project, before)


# ------------------------------------------------------------------ malformed arguments
URI = "file:///p/m.py"


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ((), "expected one argument {uri, position or range, version}"),
        (("file:///p/m.py",), "expected one argument {uri, position or range, version}"),
        (([URI, 3],), "expected one argument {uri, position or range, version}"),
        (({"uri": 7, "function": "f"},), "expected one argument {uri, position or range, version}"),
        (({"uri": "", "function": "f"},), "expected one argument {uri, position or range, version}"),
        (({"uri": URI},), "expected a position {line, character}, a range, or a function name"),
        (({"uri": URI, "position": 3},), "position must be a position {line, character} of whole numbers >= 0, got 3"),
        (({"uri": URI, "position": {"line": "one"}},), "position must be a position"),
        (({"uri": URI, "position": {"line": -1, "character": 0}},), "position must be a position"),
        (({"uri": URI, "position": {"line": 1, "character": "x"}},), "position must be a position"),
        (({"uri": URI, "range": {"start": 2}},), "range must be a range {start, end}"),
        (({"uri": URI, "line": True},), "line must be a whole number >= 0, got True"),
        (({"uri": URI, "line": 2, "version": "7"},), "version must be the document's version (a whole number), got '7'"),
        (({"uri": URI, "line": 2, "function": 5},), "function must be a function's qualified name (Class.method), got 5"),
    ],
)
def test_a_malformed_argument_is_invalid_params_saying_what_is_wrong(arguments: tuple[Any, ...], problem: str) -> None:
    with pytest.raises(JsonRpcInvalidParams) as error:
        parse_target("orps.optimize", arguments)
    assert error.value.code == -32602
    assert error.value.message.startswith(f"orps.optimize: {problem}"), error.value.message


def test_the_ways_of_giving_the_target_that_are_accepted() -> None:
    position = {"line": 4, "character": 2}
    assert parse_target("c", [{"uri": URI, "position": position, "version": 3}]) == Target(URI, 4, 3, None)
    assert parse_target("c", [{"uri": URI, "position": {"line": 4}}]).line == 4  # the character is not needed
    assert parse_target("c", [{"uri": URI, "range": {"start": position, "end": position}}]).line == 4
    assert parse_target("c", [{"uri": URI, "line": 4, "version": None, "function": None}]) == Target(URI, 4, None, None)
    assert parse_target("c", [{"uri": URI, "function": "C.f"}]) == Target(URI, None, None, "C.f")
    # The position wins over a range or a line.
    assert parse_target("c", [{"uri": URI, "position": position, "line": 9}]).line == 4


@pytest.mark.asyncio
async def test_malformed_command_arguments_get_a_json_rpc_error_from_the_real_server(project: Path, tmp_path: Path) -> None:
    """InvalidParams (-32602) for each command, with what was wrong; no window/showMessage of the
    server's own (the editor shows the error once), no search, and the server still serves."""
    before = snapshot(project)
    async with editor_session(project, answers=answers_file(tmp_path / "a.json", [FAST_HAS_DUPLICATES])) as editor:
        uri = editor.open(project / "shapes.py")
        missing = (project / "nowhere.py").as_uri()
        cases = [
            ("orps.optimize", (), "expected one argument"),
            ("orps.optimize", ("file:///x.py",), "expected one argument"),
            ("orps.optimize", ({"uri": uri, "position": {"line": "one"}},), "position must be"),
            ("orps.optimize", ({"uri": uri, "line": 3, "version": "v1"},), "version must be"),
            ("orps.optimize", ({"uri": missing, "line": 3},), f"no document {missing}: it is neither open"),
            ("orps.solve", ({"uri": uri, "function": "nowhere"},), f"no function 'nowhere' in {uri}"),
            ("orps.solve", ({"uri": uri},), "expected a position {line, character}, a range, or a function name"),
            ("orps.cancel", ({"uri": uri, "range": [1, 2]},), "range must be"),
            ("orps.cancel", ({"uri": missing, "line": 3},), f"no document {missing}"),
            ("orps.getReport", ({"uri": uri, "position": 3},), "position must be"),
        ]
        for command, arguments, problem in cases:
            with pytest.raises(JsonRpcInvalidParams) as error:
                await editor.command(command, *arguments)
            assert error.value.code == -32602, (command, arguments)
            assert error.value.message.startswith(f"{command}: ") and problem in error.value.message, (command, error.value)
            assert "Traceback" not in error.value.message
        assert not orps_messages(editor) and not editor.problems
        assert not editor.progress_reports
        # Not malformed: a search refused for the user's reason is still a result.
        assert (await editor.command("orps.optimize", {"uri": uri, "position": {"line": 0}}))["status"] == "no function"
        assert (await editor.command("orps.cancel", {"uri": uri, "function": "nowhere"})) == {"cancelled": []}
        assert_nothing_written(editor, project, before)
        await assert_still_serving(editor)


@pytest.mark.timeout(120)  # four searches
@pytest.mark.asyncio
async def test_a_method_a_nested_a_decorated_and_an_async_function_are_searched_and_only_they_change(
    project: Path, tmp_path: Path
) -> None:
    before = snapshot(project)
    answers = tmp_path / "answers.json"
    async with editor_session(project, answers=answers_file(answers, [FAST_HAS_DUPLICATES]), configuration=QUICK) as editor:
        uri = editor.open(project / "shapes.py")
        text = editor.text(uri)
        # The cursor in the nested helper stands for its enclosing function (the tests can only call that one);
        # on a decorator or on the `def` line, for the function.
        cursor = {
            "Counter.total": ("class Counter", "raise NotImplementedError"),
            "outer": ("def outer", "return item * 3"),
            "square": ("@functools", "@functools"),
            "double": ("async def double", "async def double"),
        }
        titles = {}
        for name, (anchor, needle) in cursor.items():
            [action] = await editor.code_actions(uri, line_after(text, anchor, needle))
            titles[name] = action["title"]
        assert titles == {
            "Counter.total": "Solve with ORPS: Counter.total",
            "outer": "Optimize with ORPS: outer",
            "square": "Solve with ORPS: square",
            "double": "Solve with ORPS: double",
        }

        solved: set[str] = set()
        for name, (anchor, needle) in cursor.items():
            answers_file(answers, [SHAPES[name][1]])  # re-read at each search
            line = line_after(editor.text(uri), anchor, needle)
            # `outer` is wrong, not a stub: optimize it, and a candidate that passes its failing test is an improvement.
            command = "orps.optimize" if name == "outer" else "orps.solve"
            result = await editor.command(command, target(uri, line, version=editor.version_of(uri)))
            assert result["status"] == "applied", (name, result, editor.messages_text())
            assert result["function"] == name
            solved.add(name)
            assert editor.text(uri) == shapes_module(solved), name  # that function, and nothing else, changed
        assert len(editor.edits) == 4
        assert snapshot(project) == before  # the server edits the editor's buffer, never the disk
        await assert_still_serving(editor)


# ------------------------------------------------------------------ what is in the file
@pytest.mark.asyncio
async def test_a_file_with_a_syntax_error_on_disk_is_refused_with_its_line(project: Path, tmp_path: Path) -> None:
    broken = project / "broken.py"
    broken.write_text('"""Half typed."""\n\n\ndef f(items):\n    return [x for x in items\n\n\ndef g():\n    return 1\n')
    before = snapshot(project)
    async with editor_session(project, answers=answers_file(tmp_path / "a.json", [FAST_HAS_DUPLICATES])) as editor:
        uri = broken.resolve().as_uri()  # not opened: the server reads the disk
        assert await editor.code_actions(uri, 4) == []
        result = await editor.command("orps.optimize", target(uri, 4))
        assert result["status"] == "error", result
        message = the_message(editor, types.MessageType.Error)
        assert "broken.py:5" in message and "'[' was never closed" in message  # where, and Python's own words
        assert result["message"] == message.removeprefix("ORPS: ")
        assert not editor.progress_reports
        assert_nothing_written(editor, project, before)


@pytest.mark.asyncio
async def test_a_file_that_is_not_utf8_is_refused_in_plain_words(project: Path, tmp_path: Path) -> None:
    latin = project / "latin.py"
    latin.write_bytes('"""Café."""\n\n\ndef f(items):\n    return sorted(items)\n'.encode("latin-1"))
    before = snapshot(project)
    async with editor_session(project, answers=answers_file(tmp_path / "a.json", [FAST_HAS_DUPLICATES])) as editor:
        uri = latin.resolve().as_uri()
        position = types.Position(line=4, character=4)
        assert await editor.code_actions(uri, 4) == []
        hover = await editor.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position)
        )
        assert hover is None
        lenses = await editor.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        assert not lenses
        result = await editor.command("orps.optimize", target(uri, 4))
        assert result["status"] == "error", result
        the_message(editor, types.MessageType.Error, f"ORPS: {latin} is not UTF-8 text (byte 6); save it as UTF-8 first")
        assert not editor.progress_reports
        assert_nothing_written(editor, project, before)


@pytest.mark.asyncio
async def test_an_editor_that_asks_gets_the_code_of_the_fix_not_only_words(project: Path, tmp_path: Path) -> None:
    """initializationOptions.problemCodes: what the user can fix comes as orps/problem with a stable
    code (contract.Problem) for the editor's button, instead of a window/showMessage to parse."""
    (project / "lonely.py").write_text("def lonely(items):\n    return [x for x in items if x]\n")
    async with editor_session(
        project,
        answers=answers_file(tmp_path / "a.json", [FAST_HAS_DUPLICATES]),
        init_options={"problemCodes": True, "orps": {"depth": 0}},
    ) as editor:
        await wait_until(lambda: editor.problems, what="the settings problem")
        result = await editor.command("orps.optimize", target(editor.open(project / "lonely.py"), 1))
        assert result["status"] == "error" and result["problem"] == "tests", result
        await wait_until(lambda: len(editor.problems) == 2, what="the no-tests problem")
        settings, tests = [p if isinstance(p, dict) else p._asdict() for p in editor.problems]
        assert settings["problem"] == "settings" and "orps.depth" in settings["message"] and settings["type"] == 2
        assert tests["problem"] == "tests" and tests["message"].startswith("ORPS: no tests found for 'lonely'")
        assert tests["type"] == 1 and not orps_messages(editor)  # no window/showMessage besides


@pytest.mark.asyncio
async def test_a_function_without_tests_is_refused_with_where_it_looked_and_the_setting(project: Path, tmp_path: Path) -> None:
    lonely = project / "lonely.py"
    lonely.write_text("def lonely(items):\n    return [x for x in items if x]\n")
    before = snapshot(project)
    async with editor_session(project, answers=answers_file(tmp_path / "a.json", [FAST_HAS_DUPLICATES])) as editor:
        uri = editor.open(lonely)
        result = await editor.command("orps.optimize", target(uri, 1))
        assert result["status"] == "error", result
        message = the_message(
            editor,
            types.MessageType.Error,
            "ORPS: no tests found for 'lonely' (lonely): looked at ",
            "none imports lonely and uses 'lonely'",
            "Set orps.testPaths to the test files or folders to run.",
        )
        assert "--no-tests" not in message and "--test" not in message  # CLI flags mean nothing in an editor
        assert messages_of(editor.progress_values())[-1] == message.removeprefix("ORPS: ")
        assert_nothing_written(editor, project, before)

        # The setting the message names works: given a test file, the search runs (the scripted answer
        # is has_duplicates' body, wrong here, so nothing better comes of it).
        (project / "tests" / "test_lonely.py").write_text(
            "import lonely\n\n\ndef test_it():\n    assert lonely.lonely([0, 1]) == [1]\n"
        )
        editor.set_configuration({**QUICK, "testPaths": ["tests/test_lonely.py"]}, section="orps")
        editor.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        for _ in range(100):  # the server pulls the settings again
            if (await editor.command("orps.debugInfo"))["settings"]["testPaths"] == ["tests/test_lonely.py"]:
                break
            await asyncio.sleep(0.05)
        result = await editor.command("orps.optimize", target(uri, 1))
        assert result["status"] == "nothing better", result
        after = snapshot(project)
        del after["tests/test_lonely.py"]
        assert not editor.edits and after == before


@pytest.mark.asyncio
async def test_a_model_file_that_is_not_a_gguf_or_is_truncated_is_one_error_and_no_search(project: Path) -> None:
    not_gguf, truncated = project.parent / "notes.gguf", project.parent / "cut.gguf"
    not_gguf.write_text("these are my notes, not a model\n")
    truncated.write_bytes(b"GGUF" + bytes(60))
    before = snapshot(project)
    async with editor_session(project, answers=None, init_options={**QUICK, "model": str(not_gguf)}) as editor:
        uri = editor.open(project / "slowmath.py")
        line = line_of(editor.text(uri), "for i in range")
        result = await editor.command("orps.optimize", target(uri, line))
        assert result["status"] == "error", result
        the_message(editor, types.MessageType.Error, f"ORPS: {not_gguf} is not a GGUF model file (it does not start with 'GGUF')")

        editor.set_configuration({**QUICK, "model": str(truncated)}, section="orps")
        editor.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        for _ in range(100):  # the server pulls the settings again
            if (await editor.command("orps.debugInfo"))["settings"]["model"] == str(truncated):
                break
            await asyncio.sleep(0.05)
        result = await editor.command("orps.optimize", target(uri, line))
        assert result["status"] == "error", result
        last = orps_messages(editor)[-1]
        assert last.type == types.MessageType.Error
        assert str(truncated) in last.message and "64 bytes" in last.message  # which file, and what is wrong with it
        assert not any("running" in m for m in messages_of(editor.progress_values()))  # no test ran
        assert_nothing_written(editor, project, before)
        await assert_still_serving(editor)


# ------------------------------------------------------------------ cancelling, phase by phase
async def start_search(editor: SimulatedEditor, uri: str, needle: str, msg_id: str | None = None) -> asyncio.Future:
    return asyncio.ensure_future(editor.command("orps.optimize", target(uri, line_of(editor.text(uri), needle)), msg_id=msg_id))


async def quiet_children(editor: SimulatedEditor, seconds: float, timeout: float) -> None:
    """Wait until the server has had no child process for `seconds` in a row."""
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if server_children(editor):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= seconds:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the server kept test processes running")


@pytest.mark.asyncio
async def test_cancel_from_the_progress_bar_during_the_model_load(project: Path, tmp_path: Path) -> None:
    before = snapshot(project)
    answers = answers_file(tmp_path / "a.json", [FAST_HAS_DUPLICATES], load=4.0)
    async with editor_session(project, answers=answers, configuration=QUICK) as editor:
        uri = editor.open(project / "slowmath.py")
        search = await start_search(editor, uri, "for i in range")
        await wait_until(lambda: editor.progress_reports, what="the progress bar")
        info = await editor.command("orps.debugInfo")
        assert [s["state"] for s in info["searches"]] == ["running"]  # on the worker, inside the 4 s load
        [token] = editor.progress_reports
        editor.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        result = await asyncio.wait_for(search, 20)

        assert result == {"status": "cancelled", "message": "the search for has_duplicates was cancelled"}
        the_message(editor, types.MessageType.Info, "ORPS: the search for has_duplicates was cancelled")
        assert messages_of(editor.progress_values())[-1] == "cancelled"
        assert not any("running" in m for m in messages_of(editor.progress_values()))  # no test ever ran
        assert_nothing_written(editor, project, before)
        await assert_still_serving(editor)


@pytest.mark.asyncio
async def test_cancel_command_during_generation(project: Path, tmp_path: Path) -> None:
    before = snapshot(project)
    answers = answers_file(tmp_path / "a.json", [FAST_HAS_DUPLICATES], delay=30.0)
    async with editor_session(project, answers=answers, configuration=QUICK) as editor:
        uri = editor.open(project / "slowmath.py")
        search = await start_search(editor, uri, "for i in range")
        await wait_until(
            lambda: any("running the original" in m for m in messages_of(editor.progress_values())), what="the baseline run"
        )
        await quiet_children(editor, 1.0, timeout=30)  # the baseline is done: the model is generating (30 s)
        assert not search.done()
        # What the "searching... (click to cancel)" lens sends.
        cancelled = await editor.command(
            "orps.cancel", {"uri": uri, "position": {"line": 5, "character": 0}, "function": "has_duplicates"}
        )
        assert cancelled == {"cancelled": ["has_duplicates"]}
        started = time.monotonic()
        result = await asyncio.wait_for(search, 20)
        assert time.monotonic() - started < 5  # the model's wait is cut, not sat out

        assert result == {"status": "cancelled", "message": "the search for has_duplicates was cancelled"}
        the_message(editor, types.MessageType.Info, "ORPS: the search for has_duplicates was cancelled")
        assert messages_of(editor.progress_values())[-1] == "cancelled"
        assert_nothing_written(editor, project, before)
        await assert_still_serving(editor)


@pytest.mark.asyncio
async def test_cancel_request_during_the_test_run(project: Path, tmp_path: Path) -> None:
    before = snapshot(project)
    answers = answers_file(tmp_path / "a.json", [INFINITE_LOOP])
    async with editor_session(project, answers=answers, configuration={**QUICK, "testTimeout": 120, "runTimeout": 120}) as editor:
        uri = editor.open(project / "slowmath.py")
        search = await start_search(editor, uri, "for i in range", msg_id="search-in-tests")
        await wait_until(
            lambda: any("running tests" in m for m in messages_of(editor.progress_values())), what="the candidate's run"
        )
        children = await wait_until(lambda: server_children(editor), what="the sandboxed pytest")
        editor.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="search-in-tests"))
        with pytest.raises(Exception, match="(?i)cancel"):
            await asyncio.wait_for(search, 20)

        await wait_until(lambda: messages_of(editor.progress_values())[-1] == "cancelled", timeout=10, what="the progress end")
        gone = lambda: not any(c.is_running() and c.status() != "zombie" for c in children)  # noqa: E731
        await wait_until(gone, timeout=10, what="the looping candidate's processes to be killed")
        assert not orps_messages(editor)  # the editor asked for it: no message
        assert_nothing_written(editor, project, before)
        await assert_still_serving(editor)


# ------------------------------------------------------------------ two clients
@pytest.mark.asyncio
async def test_two_servers_on_one_project_search_the_same_function_independently(project: Path, tmp_path: Path) -> None:
    """Each editor's server has its own queue: the second is neither refused nor queued behind the
    first. Neither writes the disk; each offers its edit to its own editor."""
    before = snapshot(project)
    answers = answers_file(tmp_path / "a.json", [PALINDROME], delay=0.5)
    async with (
        editor_session(project, answers=answers, configuration=QUICK) as first,
        editor_session(project, answers=answers, configuration=QUICK) as second,
    ):
        uris = [editor.open(project / "slowmath.py") for editor in (first, second)]
        line = line_of(first.text(uris[0]), "raise NotImplementedError")
        results = await asyncio.wait_for(
            asyncio.gather(
                first.command("orps.solve", target(uris[0], line)), second.command("orps.solve", target(uris[1], line))
            ),
            50,
        )

        assert [r["status"] for r in results] == ["applied", "applied"], results
        for editor, uri in zip((first, second), uris):
            assert len(editor.edits) == 1 and "letters[::-1]" in editor.text(uri)
            the_message(editor, types.MessageType.Info, "ORPS: applied to is_palindrome - solved: 6/6 tests pass")
            await assert_still_serving(editor)
        assert snapshot(project) == before


# ------------------------------------------------------------------ the model's context window
@pytest.mark.real_model
@pytest.mark.timeout(300)
@pytest.mark.asyncio
async def test_a_context_window_too_small_for_the_prompt_is_one_message(project: Path) -> None:
    """The function alone (it is always shown whole; the tests are cut at 2500 characters) is
    longer than the smallest window the settings allow: the search stops with one message."""
    branches = "".join(f'    if code == "{chr(65 + i // 26)}{chr(65 + i % 26)}":\n        return {i}\n' for i in range(80))
    (project / "table.py").write_text(f'def lookup(code):\n    """The number of a two-letter code."""\n{branches}    return -1\n')
    (project / "tests" / "test_table.py").write_text(
        'from table import lookup\n\n\ndef test_lookup():\n    assert lookup("AB") == 1\n'
    )
    before = snapshot(project)
    settings = {**QUICK, "contextSize": 512, "maxLlmCalls": 2}
    async with editor_session(project, answers=None, init_options=settings) as editor:
        uri = editor.open(project / "table.py")
        result = await editor.command("orps.optimize", target(uri, 1))

        assert result["status"] == "error", result
        the_message(
            editor, types.MessageType.Error, "does not fit the context window (512 tokens)", "raise the context size setting"
        )
        assert_nothing_written(editor, project, before)
        await assert_still_serving(editor)
