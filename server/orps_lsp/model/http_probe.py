"""Whether a server continues a trailing assistant message or answers it in a new turn.

The answer decides how a prefill is handled (model/http_prefill.py): a server
that starts a new turn gets its stop strings applied here, and the prefill's
repetition cut.
"""

from __future__ import annotations

from .base import ChatRequest, Message
from .http_request import chat_body
from .http_transport import Transport


async def probe_prefill(transport: Transport, model: str | None) -> bool:
    """Two one-token calls, without and with a trailing assistant message.

    Continued, the prompt grows by that message's text alone (a token or
    two). In a new turn it also closes the assistant's turn and opens
    another: several template tokens more. Counting beats reading what a
    small model wrote. Without counts, assume a new turn: safe for both.
    """
    question: list[Message] = [{"role": "user", "content": "Say hello."}]
    counts = []
    for messages in (question, question + [{"role": "assistant", "content": "Hello"}]):
        body = chat_body(
            ChatRequest(messages[:1], prefill=messages[1]["content"] if len(messages) > 1 else "", max_tokens=1, temperature=0.0),
            model,
        )
        body["stream"] = False
        body.pop("stream_options")
        data, _ = await transport.send_json("POST", "chat/completions", body, "chat")
        try:
            counts.append(int(data["usage"]["prompt_tokens"]))
        except (KeyError, TypeError, ValueError):
            return False
    return counts[1] - counts[0] <= 2
