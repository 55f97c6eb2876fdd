"""What the admin commands share: the configured database, and the CLI as an audit actor."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from runtime.config import Settings
from runtime.db import create_engine_for, create_session_factory, describe, upgrade


@dataclass(frozen=True, slots=True)
class CliActor:
    """The audit trail's actor for commands run on the server (no API token involved)."""

    id: int | None
    name: str
    role: str = "cli"

    @classmethod
    def current(cls) -> CliActor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(id=None, name=f"cli:{user}")


@contextmanager
def database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database, migrated to the newest schema first."""
    engine = create_engine_for(settings)
    try:
        if upgrade(engine).created:
            print(f"Created the database at {describe(settings.database_url)}", file=sys.stderr)
        yield create_session_factory(engine)
    finally:
        engine.dispose()


def parse_time(value: str) -> datetime:
    """An ISO 8601 time for --since/--until; a time without zone is taken as UTC."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"
