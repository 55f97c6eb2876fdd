"""Queue work on executions: runs and deliveries claimed under a lease, and what is due.

The database is the truth about queued work; a queue (RQ or the embedded one) only carries
notices. A worker that dies stops renewing its lease, and the sweeper finds the work again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from runtime.db.engine import begin_write
from runtime.db.models import DeliveryStatus, Execution, ExecutionStatus, utcnow

_PENDING = ExecutionStatus.PENDING
_RUNNING = ExecutionStatus.RUNNING


def claim_run(
    session: Session, *, execution_id: str, lease_seconds: float, now: datetime | None = None
) -> Execution | None:
    """Move a due pending execution to running under a lease; None when another took it."""
    now = now or utcnow()
    begin_write(session)
    claimed = session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.status == _PENDING, _due(now))
        .values(
            status=_RUNNING,
            started_at=now,
            lease_until=now + timedelta(seconds=lease_seconds),
            next_attempt_at=None,
        )
        .returning(Execution.id)
    ).scalar_one_or_none()
    if claimed is None:
        session.commit()
        return None
    execution = _reload(session, execution_id)
    *earlier, current = execution.attempt_log or [{"attempt": execution.attempts}]
    execution.attempt_log = [
        *earlier,
        {**current, "status": _RUNNING.value, "startedAt": now.isoformat()},
    ]
    session.commit()
    return execution


def renew_lease(session: Session, *, execution_id: str, lease_seconds: float) -> bool:
    """Extend a held lease (the worker is alive); False when the lease is no longer there."""
    begin_write(session)
    renewed = session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.lease_until.is_not(None))
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
        .returning(Execution.id)
    ).scalar_one_or_none()
    session.commit()
    return renewed is not None


def requeue_run(
    session: Session,
    *,
    execution_id: str,
    outcome: str,
    error: dict[str, Any] | None,
    delay_seconds: float,
    expired_before: datetime | None = None,
    now: datetime | None = None,
) -> Execution | None:
    """Close the running attempt as `outcome` and queue a further one after `delay_seconds`.

    With `expired_before`, only a run whose lease expired before it (its worker died) is
    taken. None when the execution is not running (any more).
    """
    now = now or utcnow()
    begin_write(session)
    condition = [Execution.id == execution_id, Execution.status == _RUNNING]
    if expired_before is not None:
        condition.append(Execution.lease_until < expired_before)
    claimed = session.execute(
        update(Execution)
        .where(*condition)
        .values(
            status=_PENDING,
            attempts=Execution.attempts + 1,
            lease_until=None,
            started_at=None,
            next_attempt_at=now + timedelta(seconds=delay_seconds),
        )
        .returning(Execution.attempts)
    ).scalar_one_or_none()
    if claimed is None:
        session.commit()
        return None
    execution = _reload(session, execution_id)
    *earlier, current = execution.attempt_log or [{"attempt": claimed - 1}]
    closed = {
        **current,
        "status": outcome,
        "finishedAt": now.isoformat(),
        "errorType": error.get("type") if error else None,
        "errorMessage": error.get("message") if error else None,
    }
    queued = {"attempt": claimed, "status": _PENDING.value, "queuedAt": now.isoformat()}
    execution.attempt_log = [*earlier, closed, queued]
    session.commit()
    return execution


def due_runs(session: Session, *, now: datetime, limit: int = 500) -> list[tuple[str, int]]:
    """(id, attempt) of pending executions whose run is due (queued, or back-off over)."""
    query = select(Execution.id, Execution.attempts).where(Execution.status == _PENDING, _due(now))
    rows = session.execute(query.order_by(Execution.created_at).limit(limit))
    return [(row.id, row.attempts) for row in rows]


def expired_runs(session: Session, *, now: datetime, limit: int = 500) -> list[Execution]:
    """Running executions whose worker stopped renewing the lease."""
    query = select(Execution).where(Execution.status == _RUNNING, Execution.lease_until < now)
    return list(session.scalars(query.limit(limit)))


def due_deliveries(session: Session, *, now: datetime, limit: int = 500) -> list[Execution]:
    """Executions with something to deliver that is due and that no worker holds."""
    query = select(Execution).where(
        Execution.delivery == DeliveryStatus.PENDING.value, _due(now), _free(now)
    )
    return list(session.scalars(query.order_by(Execution.next_attempt_at).limit(limit)))


def claim_delivery(
    session: Session, *, execution_id: str, lease_seconds: float, now: datetime | None = None
) -> Execution | None:
    """Take a due delivery under a lease; None when it is not due, done, or held elsewhere."""
    now = now or utcnow()
    begin_write(session)
    claimed = session.execute(
        update(Execution)
        .where(
            Execution.id == execution_id,
            Execution.delivery == DeliveryStatus.PENDING.value,
            _due(now),
            _free(now),
        )
        .values(lease_until=now + timedelta(seconds=lease_seconds))
        .returning(Execution.id)
    ).scalar_one_or_none()
    execution = _reload(session, execution_id) if claimed is not None else None
    session.commit()
    return execution


def save_delivery(
    session: Session,
    *,
    execution_id: str,
    writeback: dict[str, Any] | None,
    callback: dict[str, Any] | None,
    delivery: DeliveryStatus,
    next_attempt_at: datetime | None,
) -> None:
    """Store what a delivery pass did and release its lease."""
    begin_write(session)
    session.execute(
        update(Execution)
        .where(Execution.id == execution_id)
        .values(
            writeback=writeback,
            callback=callback,
            delivery=delivery.value,
            next_attempt_at=next_attempt_at,
            lease_until=None,
        )
    )
    session.commit()


def restart_run(
    session: Session, *, execution_id: str, version: int, now: datetime | None = None
) -> Execution | None:
    """Queue a final execution to run again (an operator's retry); None unless it is final."""
    now = now or utcnow()
    begin_write(session)
    finals = [status for status in ExecutionStatus if status.is_final]
    claimed = session.execute(
        update(Execution)
        .where(
            Execution.id == execution_id,
            Execution.status.in_(finals),
            or_(Execution.delivery.is_(None), Execution.delivery != DeliveryStatus.PENDING.value),
        )
        .values(
            status=_PENDING,
            version=version,
            attempts=Execution.attempts + 1,
            hs_execution_state=None,
            started_at=None,
            finished_at=None,
            lease_until=None,
            next_attempt_at=now,
            delivery=None,
        )
        .returning(Execution.attempts)
    ).scalar_one_or_none()
    if claimed is None:
        session.commit()
        return None
    execution = _reload(session, execution_id)
    entry = {"attempt": claimed, "status": _PENDING.value, "queuedAt": now.isoformat()}
    execution.attempt_log = [*execution.attempt_log, {**entry, "retriedByOperator": True}]
    session.commit()
    return execution


def reopen_delivery(
    session: Session, *, execution_id: str, now: datetime | None = None
) -> Execution | None:
    """Deliver again what was given up on (an operator's retry); None when nothing failed."""
    now = now or utcnow()
    begin_write(session)
    execution = session.get(Execution, execution_id, populate_existing=True)
    failed = (DeliveryStatus.CALLBACK_FAILED.value, DeliveryStatus.WRITEBACK_FAILED.value)
    if execution is None or execution.delivery not in failed:
        session.commit()
        return None
    for part in ("writeback", "callback"):
        state = getattr(execution, part)
        if state and state.get("state") == "failed":
            # A new retry window starts now.
            setattr(execution, part, {**state, "state": "pending", "firstAttemptAt": None})
    execution.delivery = DeliveryStatus.PENDING.value
    execution.next_attempt_at = now
    execution.lease_until = None
    session.commit()
    return execution


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(Execution.next_attempt_at.is_(None), Execution.next_attempt_at <= now)


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(Execution.lease_until.is_(None), Execution.lease_until < now)


def _reload(session: Session, execution_id: str) -> Execution:
    query = select(Execution).where(Execution.id == execution_id)
    return session.scalars(query.execution_options(populate_existing=True)).one()
