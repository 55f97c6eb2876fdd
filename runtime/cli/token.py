"""`codehook token create|list|revoke`: manage API tokens in the configured database."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from sqlalchemy import Engine

from runtime.auth import Role, issue_token
from runtime.cli._store import CliActor
from runtime.config import Settings
from runtime.db import audit, create_engine_for, create_session_factory, describe, upgrade
from runtime.db import tokens as token_store


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("token", help="create, list and revoke API tokens")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a token; prints it once, on the last line")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--name", help="a label for the token (default: ROLE-YYYYmmdd-HHMMSS)")
    create.set_defaults(handler=_create)

    listing = actions.add_parser("list", help="list tokens (never their values)")
    listing.add_argument("--all", action="store_true", help="include revoked tokens")
    listing.set_defaults(handler=_list)

    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=_revoke)


def _engine() -> Engine:
    settings = Settings.from_env()
    engine = create_engine_for(settings)
    if upgrade(engine).created:
        print(f"Created the database at {describe(settings.database_url)}", file=sys.stderr)
    return engine


def _create(args: argparse.Namespace) -> int:
    role = Role(args.role)
    name = args.name or f"{role.value}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    engine = _engine()
    with create_session_factory(engine)() as session:
        info, token = issue_token(session, role=role, name=name)
        audit.record(
            session,
            actor=CliActor.current(),
            action="token.created",
            target=str(info.id),
            details={"name": info.name, "role": role.value},
        )
    engine.dispose()
    print(f"Created {role.value} token {info.id} ({info.name}). It is shown only this once;")
    print("send it as 'Authorization: Bearer <token>'.")
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    engine = _engine()
    with create_session_factory(engine)() as session:
        rows = token_store.list_tokens(session, include_revoked=args.all)
    engine.dispose()
    print(f"{'ID':>4}  {'ROLE':<6}  {'NAME':<24}  {'CREATED':<20}  {'LAST USED':<20}  REVOKED")
    for row in rows:
        print(
            f"{row.id:>4}  {row.role:<6}  {row.name:<24}  {_when(row.created_at):<20}  "
            f"{_when(row.last_used_at):<20}  {_when(row.revoked_at)}"
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    engine = _engine()
    with create_session_factory(engine)() as session:
        row = token_store.revoke_token(session, token_id=args.id)
        if row is not None:
            audit.record(
                session,
                actor=CliActor.current(),
                action="token.revoked",
                target=str(row.id),
                details={"name": row.name, "role": row.role},
            )
    engine.dispose()
    if row is None:
        print(f"codehook token revoke: no token with id {args.id}", file=sys.stderr)
        return 1
    print(f"Revoked token {row.id} ({row.name}).")
    return 0


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"
