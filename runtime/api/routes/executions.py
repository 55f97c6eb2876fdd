"""Execution records: list with filters and cursor pagination, show one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from runtime.api.deps import Editor, SessionDep, StateDep, Viewer
from runtime.api.errors import ApiError
from runtime.api.routes.audit import PRINTABLE, require_zone
from runtime.api.schemas import execution_view
from runtime.db import ExecutionStatus, Snippet, audit, work
from runtime.db import executions as records
from runtime.db.models import DeliveryStatus
from runtime.queue import QueueUnavailable, Task

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


_GIVEN_UP = (DeliveryStatus.CALLBACK_FAILED.value, DeliveryStatus.WRITEBACK_FAILED.value)


@router.post("/{execution_id}/retry", status_code=202)
def retry_execution(
    execution_id: Annotated[str, Path(max_length=64)],
    state: StateDep,
    session: SessionDep,
    caller: Editor,
) -> dict[str, Any]:
    """Deliver again what was given up on, else run a final execution again (current version)."""
    execution = records.get_execution(session, execution_id=execution_id)
    if execution is None:
        raise ApiError(404, "not_found", f"no execution with id {execution_id!r}")
    if execution.delivery in _GIVEN_UP:
        action, retried = "redeliver", work.reopen_delivery(session, execution_id=execution_id)
        task = Task("deliver", execution_id)
    else:
        snippet = session.get(Snippet, execution.snippet_id)
        if snippet is None or snippet.deleted_at is not None:
            raise ApiError(409, "conflict", f"snippet {execution.snippet_name!r} was deleted")
        action = "rerun"
        retried = work.restart_run(
            session, execution_id=execution_id, version=snippet.current_version
        )
        task = Task("run", execution_id, retried.attempts if retried else 0)
    if retried is None:
        raise ApiError(
            409,
            "conflict",
            f"execution {execution_id} is {execution.status.value}"
            + (f" with delivery {execution.delivery}" if execution.delivery else "")
            + "; only a finished execution (or a failed delivery) can be retried",
        )
    audit.record(
        session,
        actor=caller,
        action="execution.retried",
        target=execution_id,
        details={"action": action, "attempt": retried.attempts},
    )
    queued = True
    try:
        assert state.queue is not None
        state.queue.enqueue(task)
    except QueueUnavailable:
        queued = False  # stored as due: the sweeper queues it when the queue is back
    return {"action": action, "queued": queued, "execution": execution_view(retried)}
