"""The sweeper: finds work that is due in the database and hands it to the queue.

It is the scheduler of back-off retries (runs and deliveries wait in the database until
their `next_attempt_at`), the resumer of work accepted before a restart or queued in a Redis
that lost it, and the undertaker of runs whose worker died (expired lease).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from runtime.db import work
from runtime.db.models import utcnow
from runtime.queue.jobs import Jobs
from runtime.queue.task import Task

log = logging.getLogger("codehook.queue")


class Sweeper:
    """Sweeps every `interval` seconds; `may_sweep` lets one of many workers do it per interval."""

    def __init__(
        self, jobs: Jobs, *, interval: float, may_sweep: Callable[[], bool] | None = None
    ) -> None:
        self.jobs = jobs
        self.interval = interval
        self._may_sweep = may_sweep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sweeper:
        self._thread = threading.Thread(target=self._loop, name="codehook-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def sweep(self) -> int:
        """One pass; returns how many tasks it queued or recovered."""
        now = utcnow()
        with self.jobs.state.sessions() as session:
            expired = work.expired_runs(session, now=now)
            runs = work.due_runs(session, now=now)
            deliveries = [
                (e.id, e.lease_until is not None) for e in work.due_deliveries(session, now=now)
            ]
        for execution in expired:
            log.warning("execution %s lost its worker; recovering", execution.id)
            self.jobs.recover(execution)
        for execution_id, attempt in runs:
            self.jobs.notify(Task("run", execution_id, attempt))
        for execution_id, lease_expired in deliveries:
            # An expired delivery lease means its worker died mid-pass: its job looks live.
            self.jobs.notify(Task("deliver", execution_id), force=lease_expired)
        return len(expired) + len(runs) + len(deliveries)

    def _loop(self) -> None:
        # The first pass at once: work accepted before a restart resumes now.
        while True:
            try:
                if self._may_sweep is None or self._may_sweep():
                    self.sweep()
            except Exception:
                log.exception("sweeping for due work failed")
            if self._stop.wait(self.interval):
                return
