"""`codehook prune`: delete executions older than the retention period, in batches."""

from __future__ import annotations

import argparse
import time
from typing import Any

from runtime.cli._store import database
from runtime.config import Settings
from runtime.retention import BATCH_ROWS, cutoff, prune


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prune", help="delete executions older than CODEHOOK_EXECUTION_RETENTION_DAYS"
    )
    parser.add_argument("--days", type=int, help="override the retention period (days)")
    parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_prune)


def _prune(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    days = settings.execution_retention_days if args.days is None else args.days
    older_than = cutoff(days)
    if older_than is None:
        print(f"Retention is off ({days} days): nothing pruned.")
        return 0
    started = time.perf_counter()
    with database(settings) as sessions:
        count = prune(sessions, older_than=older_than, batch_rows=max(1, args.batch_rows))
    print(
        f"Pruned {count} execution(s) created before {older_than:%Y-%m-%d %H:%M:%S} UTC "
        f"in {time.perf_counter() - started:.1f} s."
    )
    return 0
