"""Model backends behind one small chat interface (see `base.ChatModel`)."""

from .base import ChatModel, Completion, Message, ModelError

__all__ = ["ChatModel", "Completion", "Message", "ModelError"]
