"""`codehook logs`: executions as they finish, read straight from the database."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from runtime.cli._store import database, when
from runtime.config import Settings
from runtime.db import Execution, ExecutionStatus

_COLOURS = {
    ExecutionStatus.SUCCESS: "32",  # green
    ExecutionStatus.RATE_LIMITED: "33",  # yellow: not final, HubSpot retries
    ExecutionStatus.REJECTED: "33",
    ExecutionStatus.RUNNING: "36",
    ExecutionStatus.PENDING: "36",
}
_FAILED = "31"  # red: error, timeout, memory, crash, invalid output


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("logs", help="print executions as they finish")
    parser.add_argument("--snippet", help="only this snippet")
    parser.add_argument(
        "--status", choices=[status.value for status in ExecutionStatus], help="only this status"
    )
    parser.add_argument("--limit", type=int, default=20, help="how many earlier ones to show")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new ones")
    parser.add_argument("--logs", action="store_true", help="print each execution's logs too")
    parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_logs)


def _logs(args: argparse.Namespace) -> int:
    out = sys.stdout
    colour = out.isatty() and "NO_COLOR" not in os.environ
    with database(Settings.from_env()) as sessions:
        with sessions() as session:
            rows = _finished(session, args, after=None, limit=args.limit, newest=True)
        for row in reversed(rows):
            _print(out, row, colour=colour, with_logs=args.logs)
        last = (rows[0].finished_at, rows[0].id) if rows else None
        if args.follow and colour:
            print("… waiting for executions (Ctrl-C to stop)", file=sys.stderr)
        try:
            while args.follow:
                time.sleep(args.interval)
                with sessions() as session:
                    rows = _finished(session, args, after=last, limit=500, newest=False)
                for row in rows:
                    _print(out, row, colour=colour, with_logs=args.logs)
                if rows:
                    last = (rows[-1].finished_at, rows[-1].id)
        except KeyboardInterrupt:
            return 0
    return 0


def _finished(
    session: Session,
    args: argparse.Namespace,
    *,
    after: tuple[datetime | None, str] | None,
    limit: int,
    newest: bool,
) -> Sequence[Execution]:
    query = select(Execution).where(Execution.finished_at.is_not(None))
    if args.snippet:
        query = query.where(Execution.snippet_name == args.snippet)
    if args.status:
        query = query.where(Execution.status == ExecutionStatus(args.status))
    if after is not None and after[0] is not None:
        finished, last_id = after
        query = query.where(
            or_(
                Execution.finished_at > finished,
                (Execution.finished_at == finished) & (Execution.id > last_id),
            )
        )
    order = (Execution.finished_at, Execution.id)
    query = query.order_by(*(column.desc() for column in order) if newest else order)
    return session.scalars(query.limit(max(0, limit))).all()


def _print(out: TextIO, row: Execution, *, colour: bool, with_logs: bool) -> None:
    status = f"{row.status.value:<15}"
    if colour:
        status = f"\x1b[{_COLOURS.get(row.status, _FAILED)}m{status}\x1b[0m"
    duration = f"{row.duration_ms:.0f} ms" if row.duration_ms is not None else "-"
    error = (row.error or {}).get("message") or ""
    line = (
        f"{when(row.finished_at)}  {row.id}  {row.snippet_name} v{row.version}  {status}  "
        f"{duration:>8}  object {row.object_id or '-'}"
    )
    print(line + (f"  {error.splitlines()[0][:120]}" if error else ""), file=out)
    if with_logs and row.logs:
        for log_line in row.logs.rstrip("\n").splitlines():
            print(f"    {log_line}", file=out)
    out.flush()
