"""The embedded queue: a small thread pool inside `codehook serve` (no Redis needed)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from runtime.queue.task import Task

log = logging.getLogger("codehook.queue")


class EmbeddedQueue:
    """Runs tasks on `concurrency` threads; work survives a restart because the sweeper rescans."""

    name = "embedded"

    def __init__(self, handler: Callable[[Task], None], *, concurrency: int = 2) -> None:
        self._handler = handler
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="codehook-queue")
        self._live: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False

    def enqueue(self, task: Task, *, force: bool = False) -> bool:
        with self._lock:
            if self._closed or (task.key in self._live and not force):
                return False
            self._live.add(task.key)
        self._pool.submit(self._perform, task)
        return True

    def healthy(self) -> bool:
        return not self._closed

    def close(self) -> None:
        with self._lock:
            self._closed = True
        # Queued tasks are dropped, not lost: they are still due in the database.
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _perform(self, task: Task) -> None:
        try:
            self._handler(task)
        except Exception:
            log.exception("queued task %s failed", task.key)
        finally:
            with self._lock:
                self._live.discard(task.key)
