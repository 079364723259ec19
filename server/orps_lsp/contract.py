"""The server-client contract: command names and the statuses a search command answers with.

The language server registers these commands and answers `{"status": Status, ...}`; the VS
Code extension imports the same names from client-vscode/src/contract.ts, generated from
this module (`python -m orps_lsp.codegen`, drift-tested). Clients act on the status, never on
a message's wording: messages are for people and may change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any

from .settings_schema import camel_case


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


PROGRESS_NOTIFICATION = "orps/progress"
PROBLEM_NOTIFICATION = "orps/problem"

# The label of each workspace/applyEdit that carries a search's result ("ORPS: <function>"):
# a client knows an edit to review by this prefix (client-vscode/src/review.ts).
EDIT_LABEL_PREFIX = "ORPS: "


# The failureReason of an editor that reviewed such an edit itself and was told to discard it:
# a choice, not a failure (the command answers Status.DISCARDED).
DISCARDED_IN_REVIEW = "discarded in the review"


def edit_label(function: str) -> str:
    """The label of the edit that applies a search's result for `function`."""
    return f"{EDIT_LABEL_PREFIX}{function}"


class Problem(str, Enum):
    """What a message the user can act on is about: a client offers the fix by this code
    (orps/problem {problem, message, type}), never by the message's wording."""

    SETTINGS = "settings"  # an invalid or unknown setting
    MODEL = "model"  # the model cannot be loaded or reached
    TESTS = "tests"  # no tests judge the function, or they do not run

    def __str__(self) -> str:
        return self.value


class WarningCode(str, Enum):
    """What a search report's warning is about (ReportWarning.code): a client or a test acts
    on the code, never on the message's wording."""

    NO_TESTS = "no-tests"  # nothing was executed: the result is the model's word alone
    ORIGINAL_FAILS = "original-fails"  # the original fails some tests; the guard keeps the rest
    TESTS_SKIP = "tests-skip"  # some tests skip themselves with the original
    WEAK_TESTS = "weak-tests"  # the tests run too little of the function
    ORIGINAL_ERROR = "original-error"  # the original did not run cleanly
    SCALING = "scaling"  # the chosen candidate is slower, or answers differently, on grown inputs
    UNDOCUMENTED_RAISE = "undocumented-raise"  # solve: the answer raises what its docstring does not name

    def __str__(self) -> str:
        return self.value


# The warnings that say the tests cannot be trusted to judge the function (a diagnostic on it).
TEST_WARNINGS = frozenset({WarningCode.NO_TESTS, WarningCode.WEAK_TESTS})


@dataclass(frozen=True)
class ReportWarning:
    """One warning of a search report: its code and its message (for people)."""

    code: WarningCode
    message: str

    def __str__(self) -> str:
        return self.message


class Phase(str, Enum):
    """Where a search is (SearchProgress.phase)."""

    QUEUED = "queued"  # waiting for another search to finish
    LOADING = "loading model"
    STARTING = "starting"
    BASELINE = "baseline"  # running the original
    GENERATE = "generate"
    EXECUTE = "execute"  # running a candidate's tests
    CRITIQUE = "critique"
    MEASURE = "measure"  # re-measuring the finalists
    DONE = "done"  # the search is over (its command's result says how)

    def __str__(self) -> str:
        return self.value


@dataclass
class SearchProgress:
    """orps/progress: a search's state as data, beside the $/progress of the same `token` (whose
    text is for people). A client shows these fields; it never parses the text."""

    token: str
    function: str
    mode: str  # "optimize" or "solve"
    phase: Phase
    round: int = 0  # 1-based, once the search runs
    rounds: int = 0
    candidate: int = 0
    candidates: int = 0
    best_passed: int | None = None
    best_total: int | None = None
    best_speedup: float | None = None
    fraction: float | None = None  # 0..1 of the budget

    def to_json(self) -> dict[str, Any]:
        return {camel_case(key): value.value if isinstance(value, Enum) else value for key, value in asdict(self).items()}


def typescript() -> str:
    """client-vscode/src/contract.ts."""

    def members(enum: type[Enum]) -> str:
        return "".join(f"  {camel_case(m.name.lower())}: '{m.value}',\n" for m in enum)

    return (
        "// Generated from server/orps_lsp/contract.py by `python -m orps_lsp.codegen`: do not edit.\n\n"
        "/** The commands the server registers (workspace/executeCommand). */\n"
        f"export const Command = {{\n{members(Command)}}} as const;\n"
        "export type Command = (typeof Command)[keyof typeof Command];\n\n"
        "/** What became of a search command: its result's `status`. */\n"
        f"export const Status = {{\n{members(Status)}}} as const;\n"
        "export type Status = (typeof Status)[keyof typeof Status];\n\n"
        "/** Where a search is: SearchProgress.phase. */\n"
        f"export const Phase = {{\n{members(Phase)}}} as const;\n"
        "export type Phase = (typeof Phase)[keyof typeof Phase];\n\n"
        f"export const PROGRESS_NOTIFICATION = '{PROGRESS_NOTIFICATION}';\n"
        f"export const PROBLEM_NOTIFICATION = '{PROBLEM_NOTIFICATION}';\n"
        "/** The prefix of the label of each workspace/applyEdit that carries a search's result. */\n"
        f"export const EDIT_LABEL_PREFIX = '{EDIT_LABEL_PREFIX}';\n"
        "/** The failureReason of an edit the user discarded in the editor's own review. */\n"
        f"export const DISCARDED_IN_REVIEW = '{DISCARDED_IN_REVIEW}';\n\n"
        "/** What a message the user can act on is about (orps/problem). */\n"
        f"export const Problem = {{\n{members(Problem)}}} as const;\n"
        "export type Problem = (typeof Problem)[keyof typeof Problem];\n\n"
        "/** What a search report's warning is about: its `code` (the JSON report's warnings). */\n"
        f"export const WarningCode = {{\n{members(WarningCode)}}} as const;\n"
        "export type WarningCode = (typeof WarningCode)[keyof typeof WarningCode];\n\n"
        "/** The params of orps/problem: a message (window/showMessage's `type`) with the code of its fix. */\n"
        "export interface ProblemMessage {\n  problem: Problem;\n  message: string;\n  type: number;\n}\n\n"
        "/** The params of orps/progress: a search's state as data, beside the $/progress of the same token. */\n"
        f"export interface SearchProgress {{\n{_interface(SearchProgress)}}}\n"
    )


def _interface(cls: type) -> str:
    """TypeScript fields for a dataclass of ints, floats, strings and enums (None: null)."""
    lines = []
    for field in fields(cls):
        text = str(field.type)  # the annotation's text (postponed evaluation)
        kind = "Phase" if text == "Phase" else "number" if ("int" in text or "float" in text) else "string"
        nullable = " | null" if "None" in text else ""
        lines.append(f"  {camel_case(field.name)}: {kind}{nullable};\n")
    return "".join(lines)
