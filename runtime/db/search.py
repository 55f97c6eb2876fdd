"""Execution search (`q=` over logs and error messages) and the stats an admin looks at first."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from runtime.db.models import Execution

MAX_QUERY_CHARS = 200


def matches(q: str) -> ColumnElement[bool]:
    """Executions whose logs or error message contain `q`, case-insensitively, literally.

    `%` and `_` in `q` are escaped, so they match themselves. A LIKE scan: fine for an
    admin's search over a filtered window (snippet, time); no index serves it.
    """
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    message = Execution.error["message"].as_string()
    return or_(
        Execution.logs.ilike(pattern, escape="\\"),
        message.ilike(pattern, escape="\\"),
    )


def stats(
    session: Session,
    *,
    snippet: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Counts by status and p50/p95 durationMs (nearest rank) over the matching executions."""
    conditions: list[ColumnElement[bool]] = []
    if snippet is not None:
        conditions.append(Execution.snippet_name == snippet)
    if since is not None:
        conditions.append(Execution.created_at >= since)
    if until is not None:
        conditions.append(Execution.created_at < until)
    counts = {
        str(status): int(count)
        for status, count in session.execute(
            select(Execution.status, func.count()).where(*conditions).group_by(Execution.status)
        )
    }
    timed = [*conditions, Execution.duration_ms.is_not(None)]
    durations = int(session.scalar(select(func.count()).where(*timed)) or 0)
    # Percentiles by ORDER BY .. OFFSET: portable (SQLite has no percentile_cont).
    percentiles: dict[str, float | None] = {}
    for label, fraction in (("p50", 0.50), ("p95", 0.95)):
        percentiles[label] = None
        if durations:
            rank = max(1, math.ceil(fraction * durations))
            percentiles[label] = session.scalar(
                select(Execution.duration_ms)
                .where(*timed)
                .order_by(Execution.duration_ms)
                .offset(rank - 1)
                .limit(1)
            )
    return {
        "total": sum(counts.values()),
        "byStatus": dict(sorted(counts.items())),
        "durationMs": {"count": durations, **percentiles},
    }
