"""Execution records: list with filters and cursor pagination, show one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from runtime.api.deps import SessionDep, Viewer
from runtime.api.errors import ApiError
from runtime.api.routes.audit import PRINTABLE, require_zone
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
    q: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Newest first; `since` inclusive, `until` exclusive (ISO 8601)."""
    require_zone(since=since, until=until)
    page = records.list_executions(
        session,
        snippet=snippet,
        status=status,
        object_id=objectId,
        since=since,
        until=until,
        q=q,
        cursor=cursor,
        limit=limit,
    )
    return {
        "items": [execution_view(e, full=False) for e in page.items],
        "nextCursor": page.next_cursor,
    }


@router.get("/{execution_id}")
def show_execution(
    execution_id: Annotated[str, Path(max_length=64)], session: SessionDep, caller: Viewer
) -> dict[str, Any]:
    execution = records.get_execution(session, execution_id=execution_id)
    if execution is None:
        raise ApiError(404, "not_found", f"no execution with id {execution_id!r}")
    return execution_view(execution)
