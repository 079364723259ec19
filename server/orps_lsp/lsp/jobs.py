"""Searches run one at a time on a worker thread, off the event loop.

The model is one resource (one llama.cpp context, all cores), so a second
search waits in a queue instead of competing with the first; the event loop
stays free for hover, code actions and document sync. A function has at
most one search queued or running.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..cancel import Cancelled, CancelToken
from ..contract import Phase

log = logging.getLogger("orps_lsp.jobs")

JobKey = tuple[str, str]  # (file path, function qualname)
# (message, fraction 0..1, phase, the search's own Progress or None); called on the worker thread
StatusCallback = Callable[[str, "float | None", Phase, Any], None]


class AlreadyRunning(Exception):
    """A search for this function is already queued or running."""


@dataclass(eq=False)
class Job:
    key: JobKey
    work: Callable[[Job], Any]  # runs on the worker thread; its result settles `future`
    on_status: StatusCallback
    future: asyncio.Future[Any]  # settled with what `work` returns
    loop: asyncio.AbstractEventLoop
    cancel: CancelToken = field(default_factory=CancelToken)
    started: bool = False

    @property
    def function(self) -> str:
        return self.key[1]

    def status(self, message: str, fraction: float | None = None, phase: Phase = Phase.STARTING, progress: Any = None) -> None:
        try:
            self.on_status(message, fraction, phase, progress)
        except Exception:  # a progress display problem must not stop the search
            log.exception("progress callback failed")

    def _settle(self, result: Any = None, error: BaseException | None = None) -> None:
        def settle() -> None:
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(settle)


class SearchQueue:
    def __init__(self) -> None:
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._active: dict[JobKey, Job] = {}  # queued or running, in submission order
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, key: JobKey, work: Callable[[Job], Any], on_status: StatusCallback) -> Job:
        """Queue a search; raises AlreadyRunning when `key` has one. Call from the event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if key in self._active:
                raise AlreadyRunning(f"a search for '{key[1]}' is already {'running' if self._active[key].started else 'queued'}")
            ahead = list(self._active.values())
            job = Job(key=key, work=work, on_status=on_status, future=loop.create_future(), loop=loop)
            self._active[key] = job
            self._ensure_worker()
        if ahead:
            names = ", ".join(j.function for j in ahead)
            job.status(
                f"queued: waiting for {len(ahead)} search{'es' if len(ahead) > 1 else ''} to finish ({names})", phase=Phase.QUEUED
            )
        self._queue.put(job)
        return job

    def get(self, key: JobKey) -> Job | None:
        with self._lock:
            return self._active.get(key)

    def active(self) -> list[Job]:
        with self._lock:
            return list(self._active.values())

    def cancel(self, key: JobKey | None = None) -> list[Job]:
        """Cancel one search (or all of them); returns the jobs cancelled."""
        with self._lock:
            jobs = [j for k, j in self._active.items() if key is None or k == key]
        for job in jobs:
            job.cancel.cancel()
        return jobs

    def shutdown(self, wait_seconds: float = 10.0) -> None:
        """Cancel everything and give the worker time to kill its test processes."""
        self.cancel()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(wait_seconds)

    # ------------------------------------------------------------- the worker
    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            # A daemon: a stuck search must not keep the process alive after `exit`.
            self._thread = threading.Thread(target=self._run, name="orps-search-worker", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            result, error = None, None
            try:
                if job.cancel.cancelled:
                    raise Cancelled()
                job.started = True
                result = job.work(job)
            except BaseException as exc:  # handed to the awaiting handler
                error = exc if isinstance(exc, Exception) else Cancelled()
            # Leave the active set before the handler wakes: it may start the next search at once.
            with self._lock:
                self._active.pop(job.key, None)
            job._settle(result, error)
