"""The audit trail: who did what to what, appended and never changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime.db.engine import begin_write
from runtime.db.models import AuditEntry, utcnow
from runtime.db.pagination import DEFAULT_LIMIT, Page, clamp_limit, decode_cursor, page_of


class Actor(Protocol):
    """Who acts: an API token (`runtime.auth.TokenInfo`) or the CLI on the server."""

    @property
    def id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...


def entry(
    actor: Actor, action: str, target: str | None, details: dict[str, Any] | None = None
) -> AuditEntry:
    """An audit row to add inside the caller's own transaction; `details` never hold a secret."""
    return AuditEntry(
        at=utcnow(),
        actor_id=actor.id,
        actor_name=actor.name,
        actor_role=str(actor.role),
        action=action,
        target=target,
        details=details or None,
    )


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target: str | None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit row in its own transaction."""
    begin_write(session)
    row = entry(actor, action, target, details)
    session.add(row)
    session.commit()
    return row


def list_entries(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    oldest_first: bool = False,
) -> Page[AuditEntry]:
    """Entries newest first (or oldest first, after `after_id`, for following); `since` inclusive."""
    limit = clamp_limit(limit)
    order = AuditEntry.id.asc() if oldest_first else AuditEntry.id.desc()
    query = select(AuditEntry).order_by(order)
    if actor is not None:
        query = query.where(AuditEntry.actor_name == actor)
    if action is not None:
        # `secret` matches every secret.* action, `secret.deleted` only itself.
        query = query.where(
            (AuditEntry.action == action)
            | AuditEntry.action.startswith(action + ".", autoescape=True)
        )
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if after_id is not None:
        query = query.where(AuditEntry.id > after_id)
    if cursor is not None:
        (last,) = decode_cursor(cursor, [int])
        query = query.where(AuditEntry.id > last if oldest_first else AuditEntry.id < last)
    rows = session.scalars(query.limit(limit + 1)).all()
    return page_of(rows, limit, lambda row: (row.id,))
