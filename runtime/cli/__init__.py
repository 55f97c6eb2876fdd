"""The `codehook` command: one module per subcommand, each exposing `register(subparsers)`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from runtime.cli import (
    audit,
    logs,
    migrate,
    prune,
    run,
    secrets,
    serve,
    snippets,
    token,
    worker,
)

_COMMANDS = [serve, worker, migrate, run, token, snippets, secrets, audit, logs, prune]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codehook", description="Run HubSpot-style Python snippets in a sandbox."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
