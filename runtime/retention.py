"""Execution-log retention: delete old executions in small batches, each its own transaction.

Short transactions keep hook traffic flowing: on SQLite a writer holds the whole
database, so one 1,000,000-row DELETE would stall every hook call for its duration.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from runtime.db.engine import begin_write
from runtime.db.models import Execution, utcnow

BATCH_ROWS = 5_000
# Between batches: SQLite's busy handler polls with back-off, so a waiting hook write only
# gets the lock reliably if the pruner leaves a gap longer than a poll.
BATCH_PAUSE_SECONDS = 0.01
PRUNE_INTERVAL_SECONDS = 3600.0

log = logging.getLogger("codehook.retention")


def cutoff(retention_days: int, now: datetime | None = None) -> datetime | None:
    """Executions created before this are pruned; None when retention is off (days <= 0)."""
    if retention_days <= 0:
        return None
    return (now or utcnow()) - timedelta(days=retention_days)


def prune(
    sessions: sessionmaker[Session],
    *,
    older_than: datetime,
    batch_rows: int = BATCH_ROWS,
    pause_seconds: float = BATCH_PAUSE_SECONDS,
    stop: threading.Event | None = None,
) -> int:
    """Delete executions created before `older_than`, `batch_rows` per transaction; how many."""
    total = 0
    with sessions() as session:
        while stop is None or not stop.is_set():
            begin_write(session)
            oldest = (
                select(Execution.id)
                .where(Execution.created_at < older_than)
                .order_by(Execution.created_at)
                .limit(batch_rows)
            )
            result = session.execute(delete(Execution).where(Execution.id.in_(oldest)))
            session.commit()
            deleted = int(getattr(result, "rowcount", 0) or 0)
            total += deleted
            if deleted < batch_rows:
                break
            time.sleep(pause_seconds)  # let waiting writers take the lock between batches
    return total


class Pruner:
    """Runs `prune` now and then every `interval` seconds in a daemon thread until stopped."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        retention_days: int,
        interval: float = PRUNE_INTERVAL_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._days = retention_days
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="codehook-pruner", daemon=True)

    def start(self) -> Pruner:
        if self._days > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            older_than = cutoff(self._days)
            try:
                if older_than is not None:
                    started = time.perf_counter()
                    count = prune(self._sessions, older_than=older_than, stop=self._stop)
                    if count:
                        log.info(
                            "pruned %d executions older than %s in %.1f s",
                            count,
                            older_than.isoformat(),
                            time.perf_counter() - started,
                        )
            except Exception:  # the next round tries again; the service must keep running
                log.exception("pruning executions failed")
            self._stop.wait(self._interval)
