"""Code actions and the `orps.*` commands: from "this function" to an offered edit.

Listing code actions only parses the document: nothing runs until one is
picked. A picked action runs `orps.optimize`/`orps.solve`, which queues the
search, shows progress, and offers the winner as one versioned edit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.workspace import Workspace

from .. import __version__, engine
from ..cancel import Cancelled
from ..contract import PROGRESS_NOTIFICATION, Command, Phase, Problem, SearchProgress, Status
from ..discovery import CLI_HINT as NO_TESTS_CLI_HINT
from ..model.base import ModelError
from ..regression import with_test_appended
from ..render import critique_summary, unified_diff
from ..report import SearchReport
from ..report_html import render_html
from ..source import FunctionInfo, SourceError, find_function, parse_module
from .client import EditorClient, ProgressReporter
from .edits import minimal_edit
from .hover import ReportStore
from .jobs import AlreadyRunning, Job, SearchQueue
from .models import ModelHolder
from .outline import function_at
from .settings import Settings

log = logging.getLogger("orps_lsp.actions")

OPTIMIZE, SOLVE, DEBUG_INFO, CANCEL = Command.OPTIMIZE, Command.SOLVE, Command.DEBUG_INFO, Command.CANCEL
GET_REPORT = Command.GET_REPORT
APPLY, SHOW_DIFF, DISCARD = "Apply", "Show diff", "Discard"
# The failureReason of an editor that reviewed the edit itself and was told to discard it
# (the VS Code extension, client-vscode/src/review.ts DISCARDED): a choice, not a failure.
DISCARDED_IN_REVIEW = "discarded in the review"
REWRITE = types.CodeActionKind.RefactorRewrite.value
QUICKFIX = types.CodeActionKind.QuickFix.value
CANCEL_WAIT_SECONDS = 15.0  # how long a cancelled request waits for the sandbox to kill its processes
NO_TESTS_EDITOR_HINT = "Set orps.testPaths to the test files or folders to run."  # for discovery.CLI_HINT


# ------------------------------------------------------------- code actions
def wants_rewrite(only: Sequence[str] | None) -> bool:
    """Does the client's `only` filter admit refactor.rewrite? (kinds are hierarchical)"""
    return _admits(only, REWRITE)


def _admits(only: Sequence[str] | None, kind: str) -> bool:
    return not only or any(kind == wanted or kind.startswith(f"{wanted}.") for wanted in only)


def target_arguments(uri: str, line: int, version: int | None, function: str | None = None) -> dict[str, Any]:
    """The one argument of orps.optimize/orps.solve (also used by code lenses)."""
    arguments: dict[str, Any] = {"uri": uri, "position": {"line": line, "character": 0}}
    if version is not None:
        arguments["version"] = version
    if function:
        arguments["function"] = function
    return arguments


def code_actions(uri: str, source: str, version: int | None, line: int, only: Sequence[str] | None) -> list[types.CodeAction]:
    """'Optimize with ORPS' on a function, 'Solve with ORPS' on a stub, nothing elsewhere."""
    if not wants_rewrite(only):
        return []
    info = function_at(source, line)
    if info is None:
        return []
    title, command = ("Solve with ORPS", SOLVE) if info.is_stub else ("Optimize with ORPS", OPTIMIZE)
    arguments = target_arguments(uri, line, version, info.qualname)
    return [
        types.CodeAction(
            title=f"{title}: {info.qualname}",
            kind=REWRITE,
            command=types.Command(title=title, command=command, arguments=[arguments]),
        )
    ]


def regression_test_actions(
    store: ReportStore, workspace: Workspace, uri: str, source: str, line: int, only: Sequence[str] | None
) -> list[types.CodeAction]:
    """'Add regression test for f' on a function whose last search refused a rewrite for a
    behaviour its tests do not check: the missing test (regression.py), appended to the
    first test file that judged it. Gone once the file holds it."""
    info = function_at(source, line) if _admits(only, QUICKFIX) else None
    report = store.get(uri, info.qualname) if info is not None else None
    if report is None or not report.missing_test or not report.missing_test_file:
        return []
    test_uri = Path(report.missing_test_file).as_uri()
    try:
        document = workspace.get_text_document(test_uri)
        current = document.source
    except (OSError, UnicodeDecodeError) as exc:
        log.info("no regression test action: cannot read %s: %s", report.missing_test_file, exc)
        return []
    if report.missing_test in current:
        return []
    edit = minimal_edit(current, with_test_appended(current, report.missing_test), units=document.position_codec.client_num_units)
    return [
        types.CodeAction(
            title=f"Add regression test for {info.qualname}",
            kind=QUICKFIX,
            edit=types.WorkspaceEdit(changes={test_uri: [edit]} if edit else {}),
        )
    ]


# -------------------------------------------------------------- arguments
@dataclass
class Target:
    uri: str
    line: int  # 0-based
    version: int | None
    function: str | None


def parse_target(arguments: Sequence[Any]) -> Target:
    """`[{uri, position | range | line, version?, function?}]` -> Target; ValueError says what is wrong."""
    if not arguments or not isinstance(arguments[0], dict) or not isinstance(arguments[0].get("uri"), str):
        raise ValueError("expected one argument {uri, position or range, version}")
    given = arguments[0]

    def mapping(value: Any) -> dict[str, Any]:  # anything else the user typed counts as absent
        return value if isinstance(value, dict) else {}

    position = mapping(given.get("position")) or mapping(mapping(given.get("range")).get("start"))
    line = position.get("line", given.get("line"))
    function = given.get("function")
    if not isinstance(line, int) and not isinstance(function, str):
        raise ValueError("expected a position {line, character}, a range, or a function name")
    version = given.get("version")
    return Target(
        uri=given["uri"],
        line=line if isinstance(line, int) else 0,
        version=version if isinstance(version, int) else None,
        function=function if isinstance(function, str) else None,
    )


# ---------------------------------------------------------------- searches
class _StatusRelay:
    """Carries the worker's progress to the progress bar on the event loop: the text to
    $/progress, the same state as data to orps/progress (contract.SearchProgress, with the
    bar's token), for clients that show it.

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
        if progress is not None:  # the search's own Progress (search.py)
            state.round, state.rounds = progress.round + 1, progress.rounds
            state.candidate, state.candidates = progress.candidate, progress.candidates
            state.best_passed, state.best_total, state.best_speedup = (
                progress.best_passed,
                progress.best_total,
                progress.best_speedup,
            )
        self.client.notify(PROGRESS_NOTIFICATION, state.to_json())


class _Refusal(Exception):
    """A search that does not start or does not finish: one message for the user."""

    def __init__(self, message: str, status: Status = Status.ERROR, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.problem = message, status, problem


class SearchCommands:
    """orps.optimize / orps.solve / orps.cancel / orps.debugInfo / orps.getReport.

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
        self.review_edits = review_edits
        self.search_progress = False  # initializationOptions.searchProgress: send orps/progress too

    def _fail(self, message: str, status: Status = Status.ERROR, problem: Problem | None = None) -> dict[str, Any]:
        self.client.show_message(
            f"ORPS: {message}", types.MessageType.Error if status is Status.ERROR else types.MessageType.Info, problem
        )
        answer: dict[str, Any] = {"status": status, "message": message}
        if problem is not None:
            answer["problem"] = problem
        return answer

    async def search(self, arguments: Sequence[Any], mode: str) -> dict[str, Any]:
        """Queue a search for the function at the target, follow it, offer the result."""
        try:
            try:
                target = parse_target(arguments)
            except ValueError as exc:
                raise _Refusal(f"{mode}: {exc}") from None
            settings = await self.settings()  # first: nothing may move between reading the text and queueing
            path, source, version, info = self._read(target)
            relay = _StatusRelay(self.client, info.qualname, mode, as_data=self.search_progress)
            job = self._queue(path, source, info, mode, settings, relay)
            report = await self._follow(job, relay, f"ORPS: {mode} {info.qualname}")
        except _Refusal as refusal:
            return self._fail(refusal.message, refusal.status, refusal.problem)
        self.store.put(target.uri, report)
        self.on_report(target.uri)
        return await self._offer(report, target.uri, version, source)

    def _read(self, target: Target) -> tuple[Path, str, int | None, FunctionInfo]:
        """(file, text, version, function) as the editor has them now."""
        document = self.workspace().get_text_document(target.uri)
        if not document.path:
            raise _Refusal("save the file first: ORPS runs the tests on files on disk")
        try:
            source, version = document.source, document.version
        except UnicodeDecodeError as exc:  # as the CLI says it (engine.read_source)
            raise _Refusal(f"{document.path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 first") from None
        except OSError as exc:
            raise _Refusal(f"cannot read {target.uri}: {exc}") from None
        info = self._locate(target, source)
        if info is None:
            try:
                parse_module(source, Path(document.path).name)  # a syntax error: say where
            except SourceError as exc:
                raise _Refusal(str(exc)) from None
            raise _Refusal("put the cursor inside a function (module level or a method) to search it", Status.NO_FUNCTION)
        if target.version is not None and version is not None and target.version != version:
            log.info(
                "%s moved from version %s to %s since the action was listed; searching the current text",
                target.uri,
                target.version,
                version,
            )
        return Path(document.path), source, version, info

    def _locate(self, target: Target, source: str) -> FunctionInfo | None:
        if target.function:
            try:
                return find_function(source, target.function)
            except SourceError:
                pass  # renamed or moved since the action was listed: fall back to the position
        return function_at(source, target.line)

    def _queue(self, path: Path, source: str, info: FunctionInfo, mode: str, settings: Settings, relay: _StatusRelay) -> Job:
        request = engine.SearchRequest(
            file=path,
            function=info.qualname,
            mode=mode,
            source=source,
            tests=list(settings.test_paths) or None,
            pytest_args=list(settings.pytest_args),
            limits=settings.sandbox_limits(),
            oracle=settings.oracle_options(),
        )

        def work(job: Job) -> SearchReport:  # on the search worker thread
            prepared = engine.prepare(request)  # before the model: bad input fails fast
            model = self.models.get(settings, say=lambda text: job.status(text, phase=Phase.LOADING))
            job.cancel.raise_if_cancelled()  # cancelled during the load: no sandbox, no "starting"
            job.status("starting", 0.0)
            return engine.run(
                prepared,
                model,
                settings.search_config(),
                progress=lambda p: job.status(p.message(), p.fraction, Phase(p.phase), p),
                cancel=job.cancel,
            )

        try:
            job = self.jobs.submit((str(path.resolve()), info.qualname), work, relay)
        except AlreadyRunning as exc:
            raise _Refusal(str(exc), Status.ALREADY_RUNNING) from None
        self.client.refresh_code_lenses()  # the lens says "searching..."
        return job

    async def _follow(self, job: Job, relay: _StatusRelay, title: str) -> SearchReport:
        """Show the job's progress until it ends; its failures become refusals."""
        reporter = ProgressReporter(self.client, None)
        outcome = "failed"
        try:
            reporter = await self.client.start_progress(title, on_cancel=job.cancel.cancel)
            relay.attach(reporter)
            report = await asyncio.shield(job.future)
            outcome = report.verdict
            return report
        except asyncio.CancelledError:  # $/cancelRequest for this command
            job.cancel.cancel()
            await asyncio.wait([job.future], timeout=CANCEL_WAIT_SECONDS)  # let the sandbox kill its processes
            outcome = "cancelled"
            raise
        except Cancelled:
            outcome = "cancelled"
            raise _Refusal(f"the search for {job.function} was cancelled", Status.CANCELLED) from None
        except (engine.InputError, ModelError) as exc:
            outcome = str(exc).replace(NO_TESTS_CLI_HINT, NO_TESTS_EDITOR_HINT)
            if getattr(exc, "details", ""):  # pytest's own output: for the log, not the message
                log.warning("%s: %s\n%s", job.function, outcome, exc.details)
            problem = Problem.MODEL if isinstance(exc, ModelError) else exc.problem
            raise _Refusal(outcome, problem=problem) from None
        except Exception as exc:
            log.exception("the search for %s failed", job.function)
            raise _Refusal(f"the search for {job.function} failed: {exc}") from None
        finally:
            relay.finish()
            reporter.end(outcome)
            self.client.refresh_code_lenses()

    # ----------------------------------------------------------- the result
    def _is_stale(self, uri: str, version: int | None, source: str) -> bool:
        document = self.workspace().get_text_document(uri)
        try:
            return document.version != version or document.source != source
        except OSError:
            return True

    async def _offer(self, report: SearchReport, uri: str, version: int | None, source: str) -> dict[str, Any]:
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
        applied, reason = await self.client.apply_edit(f"ORPS: {function}", uri, version, [edit] if edit else [])
        if not applied and reason == DISCARDED_IN_REVIEW:  # the editor's own review said Discard
            return {"status": Status.DISCARDED, **summary}
        if not applied:
            why = f": {reason}" if reason else ""
            self.client.show_message(f"ORPS: the editor did not apply the edit to {function}{why}", types.MessageType.Warning)
            return {"status": Status.NOT_APPLIED, "reason": reason, **summary}
        self.client.show_message(f"ORPS: applied to {function} - {report.verdict}")
        return {"status": Status.APPLIED, **summary}

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

    # ---------------------------------------------------------- the others
    def cancel(self, arguments: Sequence[Any]) -> dict[str, Any]:
        """orps.cancel [{uri, position | function}]: that function's search, or every search."""
        key = None
        if arguments:
            try:
                target = parse_target(arguments)
                document = self.workspace().get_text_document(target.uri)
                info = self._locate(target, document.source)
            except (ValueError, OSError, SourceError) as exc:
                return self._fail(f"cancel: {exc}")
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
        try:
            target = parse_target(arguments)
        except ValueError as exc:
            return self._fail(f"getReport: {exc}")
        reports = self.store.for_document(target.uri)
        if target.function is not None:
            report = reports.get(target.function)
        elif not reports:
            report = None
        else:
            try:
                source = self.workspace().get_text_document(target.uri).source
            except (OSError, UnicodeDecodeError) as exc:
                return self._fail(f"getReport: cannot read {target.uri}: {exc}")
            info = function_at(source, target.line)
            report = reports.get(info.qualname) if info is not None else None
        if report is None:
            return None
        return {"html": render_html(report), "function": report.function}

    async def debug_info(self) -> dict[str, Any]:
        settings = await self.settings()
        # Importing llama.cpp and probing bubblewrap take a while: off the event loop, so that
        # the editor's other requests are answered meanwhile.
        gpu, sandbox = await asyncio.gather(asyncio.to_thread(_gpu_state, settings), asyncio.to_thread(_sandbox_isolation))
        info = {
            "version": __version__,
            "python": platform.python_version(),
            "settings": settings.to_editor_dict(),
            "model": self.models.describe(),
            "gpu": gpu,
            "sandbox": sandbox,
            "searches": [
                {"function": job.function, "file": job.key[0], "state": "running" if job.started else "queued"}
                for job in self.jobs.active()
            ],
            "client": {
                "name": self.client.name,
                "reviewEdits": self.review_edits,
                "searchProgress": self.search_progress,
                "capabilities": self.client.describe_capabilities(),
            },
        }
        log.info("debug info: %s", info)
        return info


def _gpu_state(settings: Settings) -> dict[str, Any]:
    try:
        from ..model.llama import gpu_offload_supported

        supported = gpu_offload_supported()
    except Exception as exc:  # a broken llama.cpp install must not break the debug view
        return {"offload_supported": None, "error": str(exc)}
    layers = settings.gpu_layers if settings.gpu_layers is not None else (-1 if supported else 0)
    return {"offload_supported": supported, "gpu_layers": layers, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def _sandbox_isolation() -> Any:
    """Which isolation layers the sandbox puts in force on this machine (probed when asked)."""
    try:
        from ..sandbox import describe_isolation

        return describe_isolation()
    except Exception as exc:  # a failing probe must not break the debug view
        return {"error": str(exc)}
