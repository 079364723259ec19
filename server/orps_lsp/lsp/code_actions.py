"""The code actions offered on a function: search it, or add the regression test a search asked for.

Listing them only parses the document: nothing runs until one is picked. Picking a
search action runs orps.optimize or orps.solve (commands.py) with arguments.py's argument.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from lsprotocol import types
from pygls.workspace import Workspace

from ..contract import Command
from ..regression import with_test_appended
from .arguments import target_arguments
from .edits import minimal_edit
from .hover import ReportStore
from .outline import function_at

log = logging.getLogger("orps_lsp.code_actions")

REWRITE = types.CodeActionKind.RefactorRewrite.value
QUICKFIX = types.CodeActionKind.QuickFix.value


def wants_rewrite(only: Sequence[str] | None) -> bool:
    """Does the client's `only` filter admit refactor.rewrite? (kinds are hierarchical)"""
    return _admits(only, REWRITE)


def _admits(only: Sequence[str] | None, kind: str) -> bool:
    return not only or any(kind == wanted or kind.startswith(f"{wanted}.") for wanted in only)


def code_actions(uri: str, source: str, version: int | None, line: int, only: Sequence[str] | None) -> list[types.CodeAction]:
    """'Optimize with ORPS' on a function, 'Solve with ORPS' on a stub, nothing elsewhere."""
    if not wants_rewrite(only):
        return []
    info = function_at(source, line)
    if info is None:
        return []
    title, command = ("Solve with ORPS", Command.SOLVE) if info.is_stub else ("Optimize with ORPS", Command.OPTIMIZE)
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
    if info is None:
        return []
    report = store.get(uri, info.qualname)
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
