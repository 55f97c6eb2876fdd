"""`codehook migrate`: bring the database schema up to date, once, before replicas start."""

from __future__ import annotations

import argparse
from typing import Any

from runtime.config import Settings
from runtime.db import create_engine_for, describe, upgrade


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate", help="create or upgrade the database schema (serve also does this at start)"
    )
    parser.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings)
    try:
        result = upgrade(engine)
    finally:
        engine.dispose()
    before = result.before or "empty"
    note = " (already up to date)" if result.before == result.after else ""
    print(f"Schema of {describe(settings.database_url)}: {before} -> {result.after}{note}")
    return 0
