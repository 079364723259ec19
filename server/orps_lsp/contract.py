"""The server-client contract: command names and the statuses a search command answers with.

The language server registers these commands and answers `{"status": Status, ...}`; the VS
Code extension imports the same names from client-vscode/src/contract.ts, generated from
this module (`python -m orps_lsp.codegen`, drift-tested). Clients act on the status, never on
a message's wording: messages are for people and may change.
"""

from __future__ import annotations

from enum import Enum


class Command(str, Enum):
    """workspace/executeCommand names the server registers."""

    OPTIMIZE = "orps.optimize"  # [{uri, position or range, version}] -> a search's result
    SOLVE = "orps.solve"  # the same, for a stub: write its body
    CANCEL = "orps.cancel"  # [] or [{uri, ...}] -> {"cancelled": [functions]}
    DEBUG_INFO = "orps.debugInfo"  # [] -> the server's state
    GET_REPORT = "orps.getReport"  # [{uri, function or position}] -> {"html", "function"} or null

    def __str__(self) -> str:
        return self.value


class Status(str, Enum):
    """What became of a search command (its result's "status")."""

    APPLIED = "applied"  # the edit was applied (or handed to the editor's review and accepted)
    NOTHING_BETTER = "nothing better"  # searched; nothing clears the bar ("verdict" says why)
    STALE = "stale"  # the document changed while the search ran: nothing was written
    DISCARDED = "discarded"  # the user declined the edit
    NOT_APPLIED = "not applied"  # the editor did not apply the edit ("reason")
    CANCELLED = "cancelled"
    ALREADY_RUNNING = "already running"  # a search of the same function is under way
    NO_FUNCTION = "no function"  # the cursor is not inside a function
    ERROR = "error"  # bad input or a failure ("message", also shown to the user)

    def __str__(self) -> str:
        return self.value


def _pascal(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def typescript() -> str:
    """client-vscode/src/contract.ts."""
    def members(enum: type[Enum]) -> str:
        return "".join(f"  {_pascal(m.name)[0].lower() + _pascal(m.name)[1:]}: '{m.value}',\n" for m in enum)  # type: ignore[attr-defined]

    return ("// Generated from server/orps_lsp/contract.py by `python -m orps_lsp.codegen`: do not edit.\n\n"
            "/** The commands the server registers (workspace/executeCommand). */\n"
            f"export const Command = {{\n{members(Command)}}} as const;\n"
            "export type Command = (typeof Command)[keyof typeof Command];\n\n"
            "/** What became of a search command: its result's `status`. */\n"
            f"export const Status = {{\n{members(Status)}}} as const;\n"
            "export type Status = (typeof Status)[keyof typeof Status];\n")
