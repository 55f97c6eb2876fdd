"""Bring a database's schema to the newest migration (run by `serve` and `token create`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from runtime.db.engine import WRITE_INTENT

_SCRIPTS = Path(__file__).resolve().parent.parent / "migrations"
# Any fixed number: the PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_LOCK_ID = 0x636F6465686F6F6B


@dataclass(frozen=True, slots=True)
class Upgrade:
    before: str | None
    after: str

    @property
    def created(self) -> bool:
        """True when the database had no schema before."""
        return self.before is None


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code (no alembic.ini), optionally bound to `connection`."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "runtime/migrations has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_up_to_date(engine: Engine) -> bool:
    """True when the schema is at the newest migration (for readiness checks)."""
    return current_revision(engine) == head_revision()


def upgrade(engine: Engine) -> Upgrade:
    """Apply every migration the database lacks; safe when several processes start at once."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_INTENT: True})
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
            connection.commit()
        try:
            before = MigrationContext.configure(connection).get_current_revision()
            connection.rollback()
            command.upgrade(alembic_config(connection), "head")
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                connection.commit()
    return Upgrade(before=before, after=head_revision())
