"""Executions: claimed once per idempotency key, finished once per attempt, listed newest first."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from runtime.db import search
from runtime.db.engine import begin_write
from runtime.db.exceptions import InvalidCursor
from runtime.db.models import DeliveryStatus, Execution, ExecutionStatus, Snippet, utcnow
from runtime.db.pagination import DEFAULT_LIMIT, Page, clamp_limit, decode_cursor, page_of

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RETRYABLE = [ExecutionStatus.RATE_LIMITED, ExecutionStatus.REJECTED]


def new_execution_id(now: datetime | None = None) -> str:
    """A 26-character ULID: 48 bits of UNIX ms, then 80 random bits; ids sort by time."""
    millis = int((now or utcnow()).timestamp() * 1000)
    value = (millis << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def claim_execution(
    session: Session,
    *,
    snippet: Snippet,
    version: int | None = None,
    callback_id: str | None = None,
    idempotency_key: str | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    portal_id: str | int | None = None,
    event: dict[str, Any] | None = None,
    status: ExecutionStatus = ExecutionStatus.RUNNING,
    now: datetime | None = None,
) -> tuple[Execution, bool]:
    """Record a new execution, or return the one already recorded for the same key.

    The key is the callbackId when there is one, else `idempotency_key` (the header).
    Returns `(execution, True)` when this call inserted the row; concurrent calls with one
    key get the same row and exactly one of them gets True. `event` must already be redacted.
    """
    key = callback_id or idempotency_key
    now = now or utcnow()
    values: dict[str, Any] = {
        "id": new_execution_id(now),
        "snippet_id": snippet.id,
        "snippet_name": snippet.name,
        "version": snippet.current_version if version is None else version,
        "status": status,
        "callback_id": callback_id,
        "idempotency_key": key,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "portal_id": None if portal_id is None else str(portal_id),
        "event": event,
        "logs": "",
        "attempts": 1,
        "attempt_log": [_attempt_entry(1, status, now)],
        "created_at": now,
        "started_at": now if status is ExecutionStatus.RUNNING else None,
    }
    begin_write(session)
    # INSERT .. ON CONFLICT DO NOTHING is atomic on both backends: PostgreSQL waits for a
    # concurrent insert of the same key to commit, SQLite writers hold the database lock.
    inserted = session.execute(_insert_or_ignore(session, values)).scalar_one_or_none()
    query = select(Execution).execution_options(populate_existing=True)
    if inserted is not None:
        query = query.where(Execution.id == inserted)
    else:
        query = query.where(Execution.snippet_id == snippet.id, Execution.idempotency_key == key)
    execution = session.scalars(query).one()
    session.commit()
    return execution, inserted is not None


def start_new_attempt(
    session: Session,
    *,
    execution: Execution,
    version: int | None = None,
    status: ExecutionStatus = ExecutionStatus.RUNNING,
    abandoned_before: datetime | None = None,
    now: datetime | None = None,
) -> tuple[Execution, bool]:
    """Begin a further attempt of an execution whose last attempt was not final (429/503).

    With `abandoned_before`, an attempt still `running` that started before it counts as
    abandoned (its process died) and may be taken over too. Returns `(execution, False)`,
    unchanged, when the execution is not retryable, e.g. because a concurrent call started
    the new attempt first.
    """
    now = now or utcnow()
    begin_write(session)
    changes: dict[str, Any] = {
        "status": status,
        "attempts": Execution.attempts + 1,
        "hs_execution_state": None,
        "started_at": now if status is ExecutionStatus.RUNNING else None,
        "finished_at": None,
    }
    if version is not None:
        changes["version"] = version
    claimed = session.execute(
        update(Execution)
        .where(Execution.id == execution.id, _retryable(abandoned_before))
        .values(changes)
        .returning(Execution.attempts)
    ).scalar_one_or_none()
    session.refresh(execution)
    if claimed is not None:
        execution.attempt_log = [*execution.attempt_log, _attempt_entry(claimed, status, now)]
    session.commit()
    return execution, claimed is not None


def finish_execution(
    session: Session,
    *,
    execution: Execution,
    status: ExecutionStatus,
    hs_execution_state: str | None = None,
    output_fields: dict[str, Any] | None = None,
    logs: str = "",
    error: dict[str, Any] | None = None,
    duration_ms: float | None = None,
    cpu_ms: float | None = None,
    memory_kb: int | None = None,
    writeback: dict[str, Any] | None = None,
    callback: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Execution:
    """Record the outcome of the current attempt (outputs, logs and error already redacted).

    A `writeback` or `callback` to deliver is stored in the same transaction, due at once,
    so a process that dies right after cannot lose it.
    """
    now = now or utcnow()
    begin_write(session)
    session.refresh(execution)
    execution.status = status
    execution.hs_execution_state = hs_execution_state
    execution.output_fields = output_fields
    execution.logs = logs
    execution.error = error
    execution.duration_ms = duration_ms
    execution.cpu_ms = cpu_ms
    execution.memory_kb = memory_kb
    execution.finished_at = now
    execution.lease_until = None
    execution.next_attempt_at = None
    if writeback is not None or callback is not None:
        execution.writeback = writeback if writeback is not None else execution.writeback
        execution.callback = callback if callback is not None else execution.callback
        execution.delivery = DeliveryStatus.PENDING.value
        execution.next_attempt_at = now
    *earlier, current = execution.attempt_log or [_attempt_entry(execution.attempts, status, now)]
    current = {
        **current,
        "status": status.value,
        "finishedAt": now.isoformat(),
        "durationMs": duration_ms,
        "errorType": error.get("type") if error else None,
    }
    # Reassigned, not mutated in place: plain JSON columns do not track in-place changes.
    execution.attempt_log = [*earlier, current]
    session.commit()
    return execution


def get_execution(session: Session, *, execution_id: str) -> Execution | None:
    return session.get(Execution, execution_id)


def list_executions(
    session: Session,
    *,
    snippet: str | None = None,
    status: ExecutionStatus | None = None,
    object_id: str | int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Execution]:
    """Executions newest first; `snippet` is a name, `since` is inclusive, `until` exclusive."""
    limit = clamp_limit(limit)
    query = select(Execution).order_by(Execution.created_at.desc(), Execution.id.desc())
    if snippet is not None:
        query = query.where(Execution.snippet_name == snippet)
    if status is not None:
        query = query.where(Execution.status == status)
    if object_id is not None:
        query = query.where(Execution.object_id == str(object_id))
    if since is not None:
        query = query.where(Execution.created_at >= since)
    if until is not None:
        query = query.where(Execution.created_at < until)
    if q:
        query = query.where(search.matches(q))  # in logs and error messages
    if cursor is not None:
        created, last_id = decode_cursor(cursor, [str, str])
        try:
            created_at = datetime.fromisoformat(created)
        except ValueError as exc:
            raise InvalidCursor(cursor) from exc
        query = query.where(
            or_(
                Execution.created_at < created_at,
                (Execution.created_at == created_at) & (Execution.id < last_id),
            )
        )
    rows = session.scalars(query.limit(limit + 1)).all()
    return page_of(rows, limit, lambda row: (row.created_at.isoformat(), row.id))


def purge_executions(session: Session, *, older_than: datetime) -> int:
    """Delete executions created before `older_than` (retention); returns how many."""
    begin_write(session)
    result = session.execute(delete(Execution).where(Execution.created_at < older_than))
    session.commit()
    return cast(CursorResult[Any], result).rowcount


def _retryable(abandoned_before: datetime | None) -> ColumnElement[bool]:
    retryable = Execution.status.in_(_RETRYABLE)
    if abandoned_before is None:
        return retryable
    abandoned = (Execution.status == ExecutionStatus.RUNNING) & (
        Execution.started_at < abandoned_before
    )
    return or_(retryable, abandoned)


def _insert_or_ignore(session: Session, values: dict[str, Any]) -> ReturningInsert[tuple[str]]:
    conflict = ["snippet_id", "idempotency_key"]
    if session.get_bind().dialect.name == "postgresql":
        insert = postgresql.insert(Execution).values(values)
        return insert.on_conflict_do_nothing(index_elements=conflict).returning(Execution.id)
    lite = sqlite.insert(Execution).values(values)
    return lite.on_conflict_do_nothing(index_elements=conflict).returning(Execution.id)


def _attempt_entry(number: int, status: ExecutionStatus, now: datetime) -> dict[str, Any]:
    return {"attempt": number, "status": status.value, "startedAt": now.isoformat()}
