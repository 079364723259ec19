"""The strings that an offered edit and its review are recognised by.

The server labels the workspace edit and, when the editor cannot review it, asks with
these answers; an editor that reviews the edit itself (the VS Code extension,
client-vscode/src/review.ts) recognises the edit by its label and answers a Discard with
DISCARDED_IN_REVIEW. The strings both sides match live in contract.py (with their generated
TypeScript twins); the question's answers are the server's own.
"""

from __future__ import annotations

from ..contract import DISCARDED_IN_REVIEW, edit_label

__all__ = ["APPLY", "DISCARD", "DISCARDED_IN_REVIEW", "SHOW_DIFF", "edit_label"]

# The answers of the server's own question (window/showMessageRequest); APPLY and DISCARD as review.ts's.
APPLY, SHOW_DIFF, DISCARD = "Apply", "Show diff", "Discard"
