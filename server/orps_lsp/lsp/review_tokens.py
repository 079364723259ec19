"""The strings that an offered edit and its review are recognised by, on both sides.

The server labels the workspace edit and, when the editor cannot review it, asks with
these answers; an editor that reviews the edit itself (the VS Code extension,
client-vscode/src/review.ts) recognises the edit by its label and answers a Discard with
DISCARDED_IN_REVIEW. The strings are matched, so each is written once here (and its
twin once in review.ts).
"""

from __future__ import annotations

# workspace/applyEdit's label: review.ts's isOrpsEdit takes an edit whose label starts with "ORPS" for a search result.
EDIT_LABEL = "ORPS: {function}"

# The answers of the server's own question (window/showMessageRequest); APPLY and DISCARD as review.ts's.
APPLY, SHOW_DIFF, DISCARD = "Apply", "Show diff", "Discard"

# The failureReason of an editor that reviewed the edit itself and was told to discard it
# (review.ts DISCARDED): a choice, not a failure.
DISCARDED_IN_REVIEW = "discarded in the review"


def edit_label(function: str) -> str:
    return EDIT_LABEL.format(function=function)
