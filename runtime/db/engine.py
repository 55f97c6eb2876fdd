"""Engines and sessions for SQLite (the default, a file in the data folder) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from runtime.config import Settings

# How long a SQLite writer waits for the lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Connection execution option: this transaction will write (SQLite: BEGIN IMMEDIATE).
WRITE_INTENT = "codehook_write_intent"

_HOLDS_WRITER = "codehook_holds_writer_lock"


def create_engine_for(settings: Settings) -> Engine:
    """The engine for `settings.database_url`; creates the folder of a SQLite file."""
    return create_engine_for_url(settings.database_url)


def create_engine_for_url(url: str | URL) -> Engine:
    """An engine for `url` with the connection setup Codehook relies on."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 20, "max_overflow": 20}
    return create_engine(url, **options)


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit without starting a new transaction."""
    return sessionmaker(engine, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Start the caller's own write transaction (each repository write is one transaction).

    A read transaction still open on the session is committed first; on SQLite the new
    transaction takes the write lock up front.
    """
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={WRITE_INTENT: True})


def describe(url: str | URL) -> str:
    """Where the data lives, for the start-up log line: the SQLite path or a password-free URL."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return str(Path(url.database or "").resolve())
    return url.render_as_string(hide_password=True)


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # Enough pooled connections for every thread-pool worker: connections made past the pool
    # are closed on return, and each new one repeats the PRAGMA set-up below.
    engine = create_engine(
        url, connect_args={"check_same_thread": False}, pool_size=40, max_overflow=10
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below, not the driver, start transactions (this also makes
        # SAVEPOINT work with pysqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # SQLite's busy handler sleeps in steps of up to 100 ms, so writers queueing on
    # busy_timeout wake late; writers of this process queue on a lock instead, which hands
    # over at once. busy_timeout still arbitrates between processes.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # In WAL mode a deferred transaction that reads and then writes fails at once with
        # SQLITE_BUSY (busy_timeout does not apply) when another writer committed in between.
        # Writers therefore take the lock up front; readers stay deferred so they never wait
        # for, nor block, a writer.
        immediate = connection.get_execution_options().get(WRITE_INTENT, False)
        if immediate:
            if not writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
                raise sqlite3.OperationalError("database is locked: a writer held it too long")
            connection.info[_HOLDS_WRITER] = True
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                _release(connection.info)
                raise
        else:
            connection.exec_driver_sql("BEGIN")

    def _release(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_WRITER, False):
            writer.release()

    @event.listens_for(engine, "commit")
    def _on_commit(connection: Any) -> None:
        _release(connection.info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Any) -> None:
        _release(connection.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection returned to the pool mid-transaction is rolled back by the pool.
        _release(record.info)

    return engine
