"""A thread that gathers finished executions for a short window and delivers them together."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger("codehook.delivery")

_STOP = object()


class Deliverer:
    """`submit(id)` returns at once; ids arriving within `window` seconds share one pass."""

    def __init__(
        self,
        deliver: Callable[[Iterable[str]], object],
        *,
        window: float = 0.02,
        max_batch: int = 100,
    ) -> None:
        self._deliver = deliver
        self._window = window
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="codehook-deliverer", daemon=True)
        self._thread.start()

    def submit(self, execution_id: str) -> None:
        self._queue.put(execution_id)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what was submitted, then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [str(first)]
            deadline = time.monotonic() + self._window
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(str(item))
            try:
                self._deliver(batch)
            except Exception:
                # The work stays due in the database; the sweeper hands it out again.
                log.exception("delivery pass for %d execution(s) failed", len(batch))
