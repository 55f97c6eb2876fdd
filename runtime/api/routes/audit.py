"""The audit trail (admin): filters and cursor pagination, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from runtime.api.deps import Admin, SessionDep
from runtime.api.errors import ApiError
from runtime.db import audit
from runtime.db.models import AuditEntry

# Text without control characters (PostgreSQL text cannot hold NUL).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("")
def list_audit(
    session: SessionDep,
    caller: Admin,
    actor: Annotated[str | None, Query(max_length=100, pattern=PRINTABLE)] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    target: Annotated[str | None, Query(max_length=255, pattern=PRINTABLE)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """`actor` is a token name, `action` a prefix such as `secret` or `secret.deleted`."""
    require_zone(since=since, until=until)
    page = audit.list_entries(
        session,
        actor=actor,
        action=action,
        target=target,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return {"items": [audit_view(row) for row in page.items], "nextCursor": page.next_cursor}


def audit_view(row: AuditEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": {"id": row.actor_id, "name": row.actor_name, "role": row.actor_role},
        "action": row.action,
        "target": row.target,
        "details": row.details or {},
    }


def require_zone(**times: datetime | None) -> None:
    """Refuse (422) a time without a zone, or one that has no UTC equivalent (year 0 or 10000)."""
    for name, value in times.items():
        if value is None:
            continue
        if value.tzinfo is None:
            raise ApiError(
                422,
                "invalid",
                f"{name} needs a time zone (e.g. 2026-01-31T00:00:00Z), got {value.isoformat()!r}",
            )
        try:  # stored times are UTC; one that cannot be converted would fail in the query
            value.astimezone(UTC)
        except OverflowError:
            raise ApiError(
                422, "invalid", f"{name} is out of range in UTC, got {value.isoformat()!r}"
            ) from None
