"""From a command's target to the function it names, in the document's text as the editor has it now.

The editor's text wins over the disk (unsaved changes are searched); a document the editor
has not opened is read from disk. A document that is in neither place is a malformed
argument (InvalidParams); one that exists but cannot be searched (not UTF-8, a syntax
error, the cursor outside any function) is a Refusal with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pygls.workspace import TextDocument, Workspace

from ..contract import Status
from ..source import FunctionInfo, SourceError, find_function, parse_module
from .arguments import Target
from .failures import Refusal, invalid_params
from .outline import function_at

log = logging.getLogger("orps_lsp.documents")

# What reading a URI that names no file raises (pygls reads a document that is not open from its path).
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


def document_text(workspace: Workspace, command: str, uri: str) -> tuple[TextDocument, str]:
    """The document and its current text. InvalidParams when the server has no such document;
    UnicodeDecodeError and other OSErrors are left to the caller (the document exists)."""
    document = workspace.get_text_document(uri)
    try:
        return document, document.source
    except _MISSING:
        raise invalid_params(command, f"no document {uri}: it is neither open in the editor nor a file on disk") from None


def locate(target: Target, source: str) -> FunctionInfo | None:
    """The function the target names: by name while it still exists, else the one holding the line."""
    if target.function:
        try:
            return find_function(source, target.function)
        except SourceError:
            pass  # renamed or moved since the action was listed: fall back to the position
    return function_at(source, target.line) if target.line is not None else None


@dataclass(frozen=True)
class Located:
    """What a search starts from: the file, its text and version now, and the function in it."""

    path: Path
    source: str
    version: int | None
    info: FunctionInfo


def read_target(workspace: Workspace, command: str, target: Target) -> Located:
    """The target's function in the document as the editor has it now; a Refusal says why there is none."""
    document = workspace.get_text_document(target.uri)
    if not document.path:
        raise Refusal("save the file first: ORPS runs the tests on files on disk")
    try:
        document, source = document_text(workspace, command, target.uri)
    except UnicodeDecodeError as exc:  # as the CLI says it (engine.read_source)
        raise Refusal(f"{document.path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 first") from None
    except OSError as exc:
        raise Refusal(f"cannot read {target.uri}: {exc}") from None
    info = locate(target, source)
    if info is None:
        try:
            parse_module(source, Path(document.path).name)  # a syntax error: say where
        except SourceError as exc:
            raise Refusal(str(exc)) from None
        if target.line is None:  # only a name was given, and the text has no such function
            raise invalid_params(command, f"no function {target.function!r} in {target.uri}")
        raise Refusal("put the cursor inside a function (module level or a method) to search it", Status.NO_FUNCTION)
    version = document.version
    if target.version is not None and version is not None and target.version != version:
        log.info(
            "%s moved from version %s to %s since the action was listed; searching the current text",
            target.uri,
            target.version,
            version,
        )
    return Located(Path(document.path), source, version, info)
