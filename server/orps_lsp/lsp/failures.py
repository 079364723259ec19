"""How an orps.* command that does not go through says so: two kinds, answered differently.

- Malformed arguments (not one object, no uri, a position that is not a position, a
  document the server does not have; for optimize and solve, a function name that is not in
  the text): the request
  itself is wrong, so the answer is a JSON-RPC error, InvalidParams (-32602), as LSP expects.
  pygls sends an exception of its `JsonRpcException` family raised in a command handler as
  the request's error response (its code and message). The editor shows the message; the
  server shows none of its own, so that the user sees it once.
- A search that is refused or fails for a reason of the user's world (no function at the
  cursor, a syntax error, no tests, a model that does not load, cancelled): a `Refusal`,
  answered as a normal result `{status, message, problem?}` (contract.Status and Problem)
  after one message. A client acts on those codes; they are not protocol errors.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from ..contract import Problem, Status
from .client import EditorClient

INVALID_PARAMS = JsonRpcInvalidParams.CODE  # -32602


def invalid_params(command: str, problem: str) -> JsonRpcInvalidParams:
    """The error for a malformed argument of `command`: `problem` says what was wrong with it."""
    # Built directly: JsonRpcInvalidParams.of would put "Invalid Params: " before the sentence.
    return JsonRpcInvalidParams(message=f"{command}: {problem}")


class Refusal(Exception):
    """A search that does not start or does not finish: one message for the user."""

    def __init__(self, message: str, status: Status = Status.ERROR, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.problem = message, status, problem


def refuse(client: EditorClient, refusal: Refusal) -> dict[str, Any]:
    """Show the refusal once (an error, or information for a choice such as cancelling) and answer it."""
    kind = types.MessageType.Error if refusal.status is Status.ERROR else types.MessageType.Info
    client.show_message(f"ORPS: {refusal.message}", kind, refusal.problem)
    answer: dict[str, Any] = {"status": refusal.status, "message": refusal.message}
    if refusal.problem is not None:
        answer["problem"] = refusal.problem
    return answer
