"""The remote backend's event loop: one asyncio loop in a daemon thread.

The search's plain threads wait on it, and a cancel closes every open request
at once (cancelling a future cancels its task on the loop, which closes its
requests).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..cancel import Cancelled, CancelToken
from .base import ModelError

T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a daemon thread, for callers that are plain threads."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.closed = False
        self._thread = threading.Thread(target=self.loop.run_forever, name="orps-http", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], cancel: CancelToken | None = None) -> T:
        if self.closed:
            coroutine.close()
            raise ModelError("the connection to the model server was closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        if cancel is not None:
            # Cancelling the future cancels the task on the loop, which closes its requests.
            cancel.on_cancel(future.cancel)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise Cancelled() from None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
