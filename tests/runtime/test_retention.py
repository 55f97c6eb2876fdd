"""Retention pruning in batches, execution search (`q=`) and stats, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from runtime.auth import Role
from runtime.db import ExecutionStatus, create_session_factory, search
from runtime.db import executions as ex
from runtime.db import snippets as sn
from runtime.db.models import Execution, Snippet
from runtime.retention import Pruner, cutoff, prune
from tests.runtime.live import LiveServer, action_payload

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CODE = "def main(event):\n    return None\n"


def _snippet(session: Session, name: str = "pruned") -> Snippet:
    return sn.create_snippet(session, name=name, code=CODE, settings={})


def _execution(
    session: Session, snippet: Snippet, *, at: datetime, status: ExecutionStatus, **done: Any
) -> Execution:
    execution, _ = ex.claim_execution(session, snippet=snippet, now=at)
    return ex.finish_execution(session, execution=execution, status=status, now=at, **done)


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Execution)) or 0)


def test_prune_deletes_only_old_executions_in_batches(session: Session, engine: Engine) -> None:
    """Rows older than the cutoff go, batch after batch; newer ones stay."""
    snippet = _snippet(session)
    for day in range(10):
        _execution(
            session, snippet, at=NOW - timedelta(days=day * 10), status=ExecutionStatus.SUCCESS
        )
    older_than = cutoff(30, now=NOW)
    assert older_than == NOW - timedelta(days=30)

    deleted = prune(create_session_factory(engine), older_than=older_than, batch_rows=2)

    assert deleted == 6
    left = session.scalars(select(Execution.created_at)).all()
    assert sorted(left) == [NOW - timedelta(days=d) for d in (30, 20, 10, 0)]


def test_retention_of_zero_days_keeps_everything() -> None:
    """CODEHOOK_EXECUTION_RETENTION_DAYS=0 turns pruning off."""
    assert cutoff(0) is None and cutoff(-1) is None


def test_background_pruner_runs_at_start(session: Session, engine: Engine) -> None:
    """The service's pruner thread prunes on start and stops when asked."""
    snippet = _snippet(session)
    _execution(
        session, snippet, at=datetime.now(UTC) - timedelta(days=40), status=ExecutionStatus.ERROR
    )
    _execution(session, snippet, at=datetime.now(UTC), status=ExecutionStatus.SUCCESS)

    pruner = Pruner(create_session_factory(engine), retention_days=30, interval=3600).start()
    for _ in range(200):
        if _count(session) == 1:
            break
        session.rollback()
        time.sleep(0.02)
    pruner.stop()

    assert _count(session) == 1


def test_search_matches_logs_and_error_messages_literally(session: Session) -> None:
    """`q` finds text in logs or the error message, ignoring case; % and _ match themselves."""
    snippet = _snippet(session)
    in_logs = _execution(
        session, snippet, at=NOW, status=ExecutionStatus.SUCCESS, logs="Called Stripe OK\n"
    )
    in_error = _execution(
        session,
        snippet,
        at=NOW + timedelta(seconds=1),
        status=ExecutionStatus.ERROR,
        error={"type": "ValueError", "message": "stripe said 100% no_way"},
    )
    _execution(
        session,
        snippet,
        at=NOW + timedelta(seconds=2),
        status=ExecutionStatus.SUCCESS,
        logs="other",
    )

    def found(q: str) -> set[str]:
        return {e.id for e in ex.list_executions(session, q=q).items}

    assert found("stripe") == {in_logs.id, in_error.id}
    assert found("100%") == {in_error.id}
    assert found("0% n") == {in_error.id}
    assert found("no_way") == {in_error.id}
    assert found("1_0") == set() and found("%") == {in_error.id}


def test_stats_count_statuses_and_nearest_rank_percentiles(session: Session) -> None:
    """Stats give counts by status and p50/p95 of durationMs for the snippet and window."""
    snippet, other = _snippet(session), _snippet(session, "other")
    for ms in range(1, 21):  # 1..20 ms
        status = ExecutionStatus.SUCCESS if ms <= 18 else ExecutionStatus.TIMEOUT
        _execution(
            session, snippet, at=NOW + timedelta(seconds=ms), status=status, duration_ms=float(ms)
        )
    _execution(session, other, at=NOW, status=ExecutionStatus.ERROR, duration_ms=999.0)
    _execution(
        session,
        snippet,
        at=NOW - timedelta(days=2),
        status=ExecutionStatus.ERROR,
        duration_ms=5000.0,
    )

    stats = search.stats(session, snippet="pruned", since=NOW - timedelta(hours=1))

    assert stats["byStatus"] == {"success": 18, "timeout": 2} and stats["total"] == 20
    assert stats["durationMs"] == {"count": 20, "p50": 10.0, "p95": 19.0}
    empty = search.stats(session, snippet="nothing")
    assert empty == {
        "total": 0,
        "byStatus": {},
        "durationMs": {"count": 0, "p50": None, "p95": None},
    }


def test_executions_api_searches_and_reports_stats(shared_server: LiveServer) -> None:
    """GET /v1/executions?q= and /v1/executions/stats answer through the real service."""
    code = "def main(event):\n    print('calling 50%_off API')\n    return None\n"
    created = shared_server.create_snippet("searched", code)
    shared_server.call_hook("searched", action_payload("s-1"), token=created["hookToken"])
    viewer = shared_server.client(Role.VIEWER)

    hit = viewer.get("/v1/executions", params={"q": "50%_OFF", "snippet": "searched"}).json()
    miss = viewer.get("/v1/executions", params={"q": "50%xoff", "snippet": "searched"}).json()
    stats = viewer.get("/v1/executions/stats", params={"snippet": "searched"}).json()

    assert len(hit["items"]) == 1 and miss["items"] == []
    assert stats["byStatus"] == {"success": 1} and stats["durationMs"]["p95"] is not None
    assert viewer.get("/v1/executions/stats", params={"snippet": "Bad Name"}).status_code == 422
