"""`GET /v1/executions/stats`: counts by status and p50/p95 duration for a snippet and window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from runtime.api.deps import SessionDep, Viewer
from runtime.api.routes.audit import require_zone
from runtime.api.schemas import SNIPPET_NAME
from runtime.db import search
from runtime.db.models import utcnow

# Registered before the executions router, so `stats` is not taken for an execution id.
router = APIRouter(prefix="/v1/executions", tags=["executions"])
DEFAULT_WINDOW = timedelta(hours=24)


@router.get("/stats")
def execution_stats(
    session: SessionDep,
    caller: Viewer,
    snippet: Annotated[str | None, Query(pattern=SNIPPET_NAME)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Over the last 24 hours unless `since` says otherwise (`since` inclusive, `until` exclusive)."""
    require_zone(since=since, until=until)
    since = since or utcnow() - DEFAULT_WINDOW
    return {
        "snippet": snippet,
        "since": since.isoformat(),
        "until": until.isoformat() if until else None,
        **search.stats(session, snippet=snippet, since=since, until=until),
    }
