"""Shared fixtures: a real database (a SQLite file, and PostgreSQL in a throwaway schema)."""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from runtime.db import create_engine_for_url, create_session_factory, upgrade

POSTGRES_URL = os.environ.get(
    "CODEHOOK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@functools.cache
def _postgres_admin() -> Engine | str:
    """An engine for creating test schemas, or why PostgreSQL cannot be used."""
    engine = create_engine(POSTGRES_URL, pool_size=1)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        first_line = str(exc).splitlines()[0]
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {first_line}"
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A URL for an empty database: a SQLite file, or a fresh PostgreSQL schema dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'codehook.db'}"
        return
    admin = _postgres_admin()
    if isinstance(admin, str):
        pytest.skip(admin)
    schema = f"t_{secrets.token_hex(6)}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the newest schema."""
    engine = create_engine_for_url(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with create_session_factory(engine)() as session:
        yield session
