"""Storage: schema, snippets and versions, executions and idempotency, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

import runtime.db
from runtime.config import Settings
from runtime.db import (
    ExecutionStatus,
    InvalidCursor,
    SnippetExists,
    SnippetNotFound,
    VersionNotFound,
    create_engine_for,
    create_session_factory,
    describe,
    upgrade,
)
from runtime.db import executions as ex
from runtime.db import snippets as sn
from runtime.db.migrate import head_revision
from runtime.db.models import Base, Execution, Snippet
from runtime.db.pagination import Page, encode_cursor

T = TypeVar("T")
CODE = "def main(event):\n    return {'outputFields': {'n': 1}}\n"
SETTINGS: dict[str, Any] = {"timeoutSeconds": 5, "secrets": ["API_KEY"], "mode": "sync"}
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _snippet(session: Session, name: str = "enrich") -> Snippet:
    return sn.create_snippet(session, name=name, code=CODE, settings=SETTINGS, created_by="ops")


def _all_pages(fetch: Callable[[str | None], Page[T]]) -> list[T]:
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def _in_threads(count: int, work: Callable[[Session], T], engine: Engine) -> list[T]:
    """Run `work` in `count` threads at once, each with its own session."""
    factory = create_session_factory(engine)
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        with factory() as session:
            barrier.wait()
            try:
                results.append(work(session))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


# Schema and configuration


def test_migrated_schema_matches_models(engine: Engine) -> None:
    """The hand-written migrations produce exactly the schema the models describe."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_reports_a_fresh_database_once(database_url: str) -> None:
    """The first upgrade creates the schema; a second one finds nothing to do."""
    engine = runtime.db.create_engine_for_url(database_url)
    first, second = upgrade(engine), upgrade(engine)
    engine.dispose()
    assert first.created and first.after == head_revision()
    assert not second.created and second.before == second.after == head_revision()


def test_settings_default_to_sqlite_file_in_data_dir(tmp_path: Path) -> None:
    """Without DATABASE_URL the database is `codehook.db` in the data folder (absolute path)."""
    settings = Settings.from_env({"CODEHOOK_DATA_DIR": str(tmp_path / "data")})
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'codehook.db'}"
    engine = create_engine_for(settings)
    upgrade(engine)
    engine.dispose()
    assert (tmp_path / "data" / "codehook.db").is_file()
    assert describe(settings.database_url) == str(tmp_path / "data" / "codehook.db")


def test_settings_from_mapping_ignore_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An injected mapping is the only source: variables of the real environment do not leak in."""
    monkeypatch.setenv("CODEHOOK_REDIS_URL", "redis://leaked")
    monkeypatch.setenv("CODEHOOK_DATABASE_URL", "sqlite:////leaked.db")
    settings = Settings.from_env({"CODEHOOK_DATABASE_URL": "postgresql+psycopg://u:pw@db/x"})
    assert settings.redis_url is None
    assert settings.database_url == "postgresql+psycopg://u:pw@db/x"
    assert "pw" not in repr(settings)
    assert describe(settings.database_url) == "postgresql+psycopg://u:***@db/x"


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    """SQLite runs in WAL mode, waits for locks, and enforces foreign keys."""
    engine = runtime.db.create_engine_for_url(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        values = [
            connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        ]
    assert values == ["wal", 1, 10_000]
    engine.dispose()


def test_db_package_public_surface_is_pinned() -> None:
    """`runtime.db` exports a small, deliberate surface."""
    assert sorted(runtime.db.__all__) == [
        "ApiToken",
        "Execution",
        "ExecutionStatus",
        "InvalidCursor",
        "Page",
        "Snippet",
        "SnippetExists",
        "SnippetNotFound",
        "SnippetVersion",
        "StorageError",
        "Upgrade",
        "VersionNotFound",
        "begin_write",
        "create_engine_for",
        "create_engine_for_url",
        "create_session_factory",
        "describe",
        "is_up_to_date",
        "upgrade",
    ]


# Snippets and versions


def test_create_snippet_publishes_version_one_with_content_hash(session: Session) -> None:
    """A new snippet has version 1, a sha256 content hash, a hook token and aware timestamps."""
    snippet = _snippet(session)
    assert snippet.current_version == 1 and snippet.current.number == 1
    assert snippet.current.content_hash == sn.content_hash(CODE, SETTINGS)
    assert len(snippet.current.content_hash) == 64
    assert snippet.hook_token.startswith("chh_")
    assert snippet.created_at.tzinfo is not None
    session.expunge_all()
    loaded = sn.get_snippet(session, name="enrich")
    assert loaded is not None
    assert loaded.current.settings == SETTINGS and loaded.current.created_by == "ops"
    assert loaded.created_at.utcoffset() == timedelta(0)


def test_add_version_keeps_earlier_versions_unchanged(session: Session) -> None:
    """Updating makes a new numbered version; the old one keeps its code and hash."""
    snippet = _snippet(session)
    first_hash = snippet.current.content_hash
    version, created = sn.add_version(
        session, snippet=snippet, code=CODE + "# v2\n", settings=SETTINGS, created_by="ed"
    )
    assert created and version.number == 2 and snippet.current_version == 2
    assert version.content_hash != first_hash
    old = sn.get_version(session, snippet=snippet, number=1)
    assert old is not None and old.code == CODE and old.content_hash == first_hash


def test_settings_change_alone_makes_a_new_version(session: Session) -> None:
    """The content hash covers settings, so a new timeout is a new version."""
    snippet = _snippet(session)
    version, created = sn.add_version(
        session, snippet=snippet, code=CODE, settings={**SETTINGS, "timeoutSeconds": 9}
    )
    assert created and version.number == 2


def test_saving_unchanged_content_makes_no_new_version(session: Session) -> None:
    """A repeated PUT of the same code and settings returns the current version."""
    snippet = _snippet(session)
    version, created = sn.add_version(session, snippet=snippet, code=CODE, settings=SETTINGS)
    assert not created and version.number == 1
    assert len(sn.list_versions(session, snippet=snippet).items) == 1


def test_rollback_publishes_a_copy_of_the_earlier_version(session: Session) -> None:
    """Rolling back to v1 makes v3 with v1's code and hash; history only grows."""
    snippet = _snippet(session)
    sn.add_version(session, snippet=snippet, code=CODE + "# v2\n", settings={})
    version, created = sn.rollback(session, snippet=snippet, to_version=1, created_by="ed")
    assert created and version.number == 3 and snippet.current_version == 3
    assert version.code == CODE and version.settings == SETTINGS
    assert version.content_hash == sn.content_hash(CODE, SETTINGS)
    assert version.rolled_back_from == 1
    history = sn.list_versions(session, snippet=snippet).items
    assert [v.number for v in history] == [3, 2, 1]


def test_rollback_to_unknown_version_raises(session: Session) -> None:
    """Rolling back to a version that does not exist names the snippet and number."""
    snippet = _snippet(session)
    with pytest.raises(VersionNotFound, match="'enrich' has no version 7"):
        sn.rollback(session, snippet=snippet, to_version=7)


def test_creating_a_taken_name_raises_snippet_exists(session: Session) -> None:
    """Two live snippets cannot share a name."""
    _snippet(session)
    with pytest.raises(SnippetExists):
        _snippet(session)


def test_deleted_snippet_keeps_history_and_frees_its_name(session: Session) -> None:
    """Delete is soft: versions and executions stay, and the name can be used again."""
    old = _snippet(session)
    ex.claim_execution(session, snippet=old, callback_id="cb-1")
    sn.delete_snippet(session, snippet=old)
    assert sn.get_snippet(session, name="enrich") is None
    with pytest.raises(SnippetNotFound):
        sn.add_version(session, snippet=old, code="x = 1", settings={})

    new = _snippet(session)
    assert new.id != old.id and new.current_version == 1
    assert sn.get_version(session, snippet=old, number=1) is not None
    assert ex.list_executions(session, snippet="enrich").items[0].snippet_id == old.id
    _, is_new = ex.claim_execution(session, snippet=new, callback_id="cb-1")
    assert is_new, "idempotency keys belong to one snippet, not to its name"


def test_rotating_the_hook_token_replaces_it(session: Session) -> None:
    """A rotated hook token differs from the old one and is stored."""
    snippet = _snippet(session)
    old = snippet.hook_token
    new = sn.rotate_hook_token(session, snippet=snippet)
    session.expunge_all()
    loaded = sn.get_snippet(session, name="enrich")
    assert new != old and loaded is not None and loaded.hook_token == new


def test_list_snippets_pages_without_duplicates_or_gaps(session: Session) -> None:
    """Walking every page yields each live snippet once, ordered by name."""
    names = [f"s{i:02d}" for i in range(23)]
    for name in reversed(names):
        _snippet(session, name)
    doomed = sn.get_snippet(session, name="s05")
    assert doomed is not None
    sn.delete_snippet(session, snippet=doomed)
    listed = _all_pages(lambda c: sn.list_snippets(session, cursor=c, limit=5))
    assert [s.name for s in listed] == [n for n in names if n != "s05"]


def test_concurrent_updates_number_versions_in_turn(engine: Engine, session: Session) -> None:
    """Parallel PUTs of different code each get their own version number."""
    _snippet(session)

    def update(own: Session) -> int:
        snippet = sn.get_snippet(own, name="enrich")
        assert snippet is not None
        code = f"{CODE}# {threading.get_ident()}\n"
        return sn.add_version(own, snippet=snippet, code=code, settings={})[0].number

    numbers = _in_threads(6, update, engine)
    assert sorted(numbers) == [2, 3, 4, 5, 6, 7]


# Executions


def test_same_callback_id_returns_the_recorded_execution(session: Session) -> None:
    """A repeated callbackId gets the first execution back, not a new one."""
    snippet = _snippet(session)
    first, first_new = ex.claim_execution(
        session, snippet=snippet, callback_id="ap-1", object_type="CONTACT", object_id=4
    )
    again, again_new = ex.claim_execution(session, snippet=snippet, callback_id="ap-1")
    assert (first_new, again_new) == (True, False)
    assert again.id == first.id and again.object_id == "4"
    assert again.status is ExecutionStatus.RUNNING


def test_idempotency_key_is_used_without_callback_id(session: Session) -> None:
    """Without a callbackId the Idempotency-Key deduplicates; without either, every call runs."""
    snippet = _snippet(session)
    a, _ = ex.claim_execution(session, snippet=snippet, idempotency_key="k1")
    b, b_new = ex.claim_execution(session, snippet=snippet, idempotency_key="k1")
    c, c_new = ex.claim_execution(session, snippet=snippet)
    d, d_new = ex.claim_execution(session, snippet=snippet)
    assert a.id == b.id and not b_new
    assert c_new and d_new and c.id != d.id


def test_concurrent_claims_with_one_callback_id_create_exactly_one_row(
    engine: Engine, session: Session
) -> None:
    """Racing hook calls with the same callbackId insert one execution; one caller owns it."""
    _snippet(session)

    def claim(own: Session) -> tuple[str, bool]:
        snippet = sn.get_snippet(own, name="enrich")
        assert snippet is not None
        execution, is_new = ex.claim_execution(own, snippet=snippet, callback_id="ap-race")
        return execution.id, is_new

    results = _in_threads(8, claim, engine)
    assert len({execution_id for execution_id, _ in results}) == 1
    assert sum(is_new for _, is_new in results) == 1
    assert session.scalar(select(func.count()).select_from(Execution)) == 1


def test_finish_records_outcome_and_closes_the_attempt(session: Session) -> None:
    """Finishing stores outputs, logs, error, timings and the attempt's end."""
    snippet = _snippet(session)
    execution, _ = ex.claim_execution(session, snippet=snippet, callback_id="ap-1", now=T0)
    error = {"type": "ValueError", "message": "bad", "line": 3, "traceback": "..."}
    ex.finish_execution(
        session,
        execution=execution,
        status=ExecutionStatus.ERROR,
        hs_execution_state="FAIL_CONTINUE",
        logs="picked 2\n",
        error=error,
        duration_ms=12.5,
        cpu_ms=3.0,
        memory_kb=2048,
        now=T0 + timedelta(seconds=1),
    )
    session.expunge_all()
    loaded = ex.get_execution(session, execution_id=execution.id)
    assert loaded is not None
    assert loaded.status is ExecutionStatus.ERROR and loaded.status.is_final
    assert (loaded.error, loaded.logs, loaded.memory_kb) == (error, "picked 2\n", 2048)
    assert loaded.finished_at == T0 + timedelta(seconds=1)
    assert loaded.attempt_log == [
        {
            "attempt": 1,
            "status": "error",
            "startedAt": T0.isoformat(),
            "finishedAt": (T0 + timedelta(seconds=1)).isoformat(),
            "durationMs": 12.5,
            "errorType": "ValueError",
        }
    ]


@pytest.mark.parametrize("outcome", [ExecutionStatus.RATE_LIMITED, ExecutionStatus.REJECTED])
def test_non_final_attempt_can_be_retried_once(
    session: Session, engine: Engine, outcome: ExecutionStatus
) -> None:
    """After a 429/503 attempt exactly one retry starts attempt 2 of the same execution."""
    snippet = _snippet(session)
    execution, _ = ex.claim_execution(session, snippet=snippet, callback_id="ap-1")
    ex.finish_execution(session, execution=execution, status=outcome)
    assert not outcome.is_final and outcome.is_retryable

    def retry(own: Session) -> bool:
        mine = ex.get_execution(own, execution_id=execution.id)
        assert mine is not None
        return ex.start_new_attempt(own, execution=mine)[1]

    assert sorted(_in_threads(4, retry, engine)) == [False, False, False, True]
    session.refresh(execution)
    assert execution.attempts == 2 and execution.status is ExecutionStatus.RUNNING
    assert [a["status"] for a in execution.attempt_log] == [outcome.value, "running"]


def test_final_execution_is_not_run_again(session: Session) -> None:
    """A successful execution refuses a new attempt and keeps its result."""
    snippet = _snippet(session)
    execution, _ = ex.claim_execution(session, snippet=snippet, callback_id="ap-1")
    ex.finish_execution(
        session, execution=execution, status=ExecutionStatus.SUCCESS, output_fields={"n": 1}
    )
    again, started = ex.start_new_attempt(session, execution=execution)
    assert not started and again.attempts == 1 and again.output_fields == {"n": 1}


def test_list_executions_filters(session: Session) -> None:
    """Filters by snippet name, status, objectId and a [since, until) window combine."""
    a, b = _snippet(session, "a"), _snippet(session, "b")
    for i in range(6):
        execution, _ = ex.claim_execution(
            session, snippet=a if i % 2 else b, object_id=i % 3, now=T0 + timedelta(minutes=i)
        )
        status = ExecutionStatus.SUCCESS if i < 4 else ExecutionStatus.TIMEOUT
        ex.finish_execution(session, execution=execution, status=status)

    def minutes(**filters: Any) -> list[int]:
        items = ex.list_executions(session, **filters).items
        return [int((e.created_at - T0).total_seconds() // 60) for e in items]

    assert minutes() == [5, 4, 3, 2, 1, 0]
    assert minutes(snippet="a") == [5, 3, 1]
    assert minutes(status=ExecutionStatus.TIMEOUT) == [5, 4]
    assert minutes(object_id="1") == [4, 1]
    assert minutes(object_id=1, snippet="b") == [4]
    assert minutes(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)) == [3, 2]
    assert minutes(snippet="nope") == []


def test_list_executions_pages_without_duplicates_or_gaps(session: Session) -> None:
    """The cursor walks newest first over (created_at, id), even through equal timestamps."""
    snippet = _snippet(session)
    created = [
        ex.claim_execution(session, snippet=snippet, now=T0 + timedelta(seconds=i // 3))[0].id
        for i in range(17)
    ]
    listed = _all_pages(lambda c: ex.list_executions(session, cursor=c, limit=4))
    assert sorted(e.id for e in listed) == sorted(created)
    keys = [(e.created_at, e.id) for e in listed]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == 17


def test_invalid_cursor_is_refused(session: Session) -> None:
    """A cursor this layer did not hand out raises InvalidCursor (a ValueError)."""
    for bad in ["nonsense", "W10", encode_cursor("only-one-value"), encode_cursor("x", 1)]:
        with pytest.raises(InvalidCursor):
            ex.list_executions(session, cursor=bad)


def test_naive_datetimes_are_refused(session: Session) -> None:
    """Storing a naive datetime fails instead of guessing its time zone."""
    snippet = _snippet(session)
    with pytest.raises(StatementError, match="time-zone aware"):
        ex.claim_execution(session, snippet=snippet, now=datetime(2025, 1, 1))


def test_execution_ids_sort_by_creation_time() -> None:
    """Ids are 26-character ULIDs that sort by their millisecond timestamp."""
    ids = [ex.new_execution_id(T0 + timedelta(milliseconds=i)) for i in range(50)]
    assert ids == sorted(ids) and all(len(i) == 26 for i in ids)
    assert len({ex.new_execution_id(T0) for _ in range(100)}) == 100


def test_purge_deletes_only_older_executions(session: Session) -> None:
    """Retention deletes executions created before the cut-off and reports how many."""
    snippet = _snippet(session)
    for i in range(5):
        ex.claim_execution(session, snippet=snippet, now=T0 + timedelta(days=i))
    assert ex.purge_executions(session, older_than=T0 + timedelta(days=3)) == 3
    assert len(ex.list_executions(session).items) == 2


def test_events_round_trip_as_json(session: Session, engine: Engine) -> None:
    """Events and outputs keep nested JSON, unicode and key order."""
    snippet = _snippet(session)
    event = {"inputFields": {"z": "é", "a": [1, 2.5, None, True]}, "object": {"objectId": 4}}
    execution, _ = ex.claim_execution(session, snippet=snippet, event=event)
    session.expunge_all()
    loaded = ex.get_execution(session, execution_id=execution.id)
    assert loaded is not None and loaded.event == event
    assert list(loaded.event["inputFields"]) == ["z", "a"]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT status FROM executions")).scalar() == "running"
