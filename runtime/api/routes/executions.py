"""Execution records: list with filters and cursor pagination, show one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from runtime.api.deps import SessionDep, Viewer
from runtime.api.errors import ApiError
from runtime.api.schemas import execution_view
from runtime.db import ExecutionStatus
from runtime.db import executions as records

router = APIRouter(prefix="/v1/executions", tags=["executions"])


@router.get("")
def list_executions(
    session: SessionDep,
    caller: Viewer,
    snippet: str | None = None,
    status: ExecutionStatus | None = None,
    objectId: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Newest first; `since` inclusive, `until` exclusive (ISO 8601)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(
                422,
                "invalid",
                f"{name} needs a time zone (e.g. 2026-01-31T00:00:00Z), got {value.isoformat()!r}",
            )
    page = records.list_executions(
        session,
        snippet=snippet,
        status=status,
        object_id=objectId,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    return {
        "items": [execution_view(e, full=False) for e in page.items],
        "nextCursor": page.next_cursor,
    }


@router.get("/{execution_id}")
def show_execution(
    execution_id: Annotated[str, Query(max_length=26)] | str, session: SessionDep, caller: Viewer
) -> dict[str, Any]:
    execution = records.get_execution(session, execution_id=execution_id)
    if execution is None:
        raise ApiError(404, "not_found", f"no execution with id {execution_id!r}")
    return execution_view(execution)
