"""`codehook audit`: the audit trail, newest first, with the API's filters."""

from __future__ import annotations

import argparse
import json
from typing import Any

from runtime.cli._store import database, parse_time, when
from runtime.config import Settings
from runtime.db import audit


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="show the audit trail (newest first)")
    parser.add_argument("--actor", help="a token name, or cli:USER")
    parser.add_argument("--action", help="an action or its prefix, e.g. secret or snippet.deleted")
    parser.add_argument("--target", help="a snippet or secret name, or a token id")
    parser.add_argument("--since", type=parse_time, help="ISO 8601 time (UTC if no zone)")
    parser.add_argument("--until", type=parse_time, help="ISO 8601 time (UTC if no zone)")
    parser.add_argument("--limit", type=int, default=50)
    parser.set_defaults(handler=_audit)


def _audit(args: argparse.Namespace) -> int:
    with database(Settings.from_env()) as sessions, sessions() as session:
        page = audit.list_entries(
            session,
            actor=args.actor,
            action=args.action,
            target=args.target,
            since=args.since,
            until=args.until,
            limit=args.limit,
        )
    print(f"{'WHEN':<19}  {'ACTOR':<24}  {'ROLE':<6}  {'ACTION':<26}  {'TARGET':<24}  DETAILS")
    for row in page.items:
        details = json.dumps(row.details, sort_keys=True) if row.details else ""
        print(
            f"{when(row.at):<19}  {row.actor_name:<24}  {row.actor_role:<6}  {row.action:<26}  "
            f"{row.target or '-':<24}  {details}"
        )
    return 0
