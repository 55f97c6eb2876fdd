"""Alembic environment: runs on the connection `runtime.db.migrate` hands over.

Run by hand (`alembic -x url=... revision --autogenerate`) it connects to `-x url`, else
to the database the `CODEHOOK_*` environment points at.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from runtime.config import Settings
from runtime.db.engine import create_engine_for_url
from runtime.db.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: later migrations copy-and-move tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or Settings.from_env().database_url
    engine = create_engine_for_url(url)
    with engine.connect() as connection:
        _run(connection)
        connection.commit()
    engine.dispose()


_main()
