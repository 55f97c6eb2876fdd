"""`codehook serve`: the HTTP API on the embedded default (SQLite, no Redis) or configured stores."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from runtime import logs
from runtime.config import Settings
from runtime.db import create_engine_for, describe, upgrade

log = logging.getLogger("codehook")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the HTTP API")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--dev-unauthenticated-hooks",
        action="store_true",
        help="accept hook calls without a signature or token (local development only)",
    )
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.dev_unauthenticated_hooks:
        os.environ["CODEHOOK_DEV_ALLOW_UNAUTHENTICATED_HOOKS"] = "true"
    logs.configure()
    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings)
    migrated = upgrade(engine)
    engine.dispose()
    log.info(
        "codehook data in %s (schema %s)",
        describe(settings.database_url),
        "created" if migrated.created else "up to date",
    )
    if settings.dev_allow_unauthenticated_hooks:
        log.warning(
            "hooks accept unauthenticated calls (--dev-unauthenticated-hooks); never in production"
        )
    uvicorn.run(
        "runtime.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
    )
    return 0
