"""`codehook secrets set|list|delete|rotate-key`: values come from stdin or a hidden prompt only."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from runtime import secrets as store
from runtime.cli._store import CliActor, database, when
from runtime.config import Settings
from runtime.secrets import MasterKey, SecretsError, keyring_for, open_keyring, parse_key


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("secrets", help="set, list and delete secrets; rotate the key")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    put = actions.add_parser(
        "set", help="create or rotate a secret; the value is read from stdin or a hidden prompt"
    )
    put.add_argument("name")
    put.set_defaults(handler=_set)

    actions.add_parser("list", help="names, times and grants (never values)").set_defaults(
        handler=_list
    )

    remove = actions.add_parser("delete", help="delete a secret")
    remove.add_argument("name")
    remove.set_defaults(handler=_delete)

    rotate = actions.add_parser(
        "rotate-key",
        help="re-encrypt every secret under a new master key (safe to run again if interrupted)",
    )
    # For the crash test: sleep between secrets so the process can be killed half-way.
    rotate.add_argument("--pause-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    rotate.set_defaults(handler=_rotate)


def _set(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        store.validate_name(args.name)
        value = store.validate_value(_read_value(f"Value for {args.name}: "))
        with database(settings) as sessions:
            keyring = keyring_for(settings, sessions)
            with sessions() as session:
                created = store.put(
                    session, keyring, name=args.name, value=value, actor=CliActor.current()
                )
    except SecretsError as exc:
        return _fail(exc)
    print(f"{'Created' if created else 'Rotated'} secret {args.name}.")
    return 0


def _list(args: argparse.Namespace) -> int:
    with database(Settings.from_env()) as sessions, sessions() as session:
        items = store.listing(session)
    print(f"{'NAME':<32}  {'UPDATED':<19}  {'BY':<20}  GRANTED TO")
    for item in items:
        granted = ", ".join(item.granted_to) or "-"
        print(
            f"{item.name:<32}  {when(item.updated_at):<19}  {item.updated_by or '-':<20}  {granted}"
        )
    return 0


def _delete(args: argparse.Namespace) -> int:
    try:
        with database(Settings.from_env()) as sessions, sessions() as session:
            store.delete(session, name=args.name, actor=CliActor.current())
    except SecretsError as exc:
        return _fail(exc)
    print(f"Deleted secret {args.name}.")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    master = settings.master_key.get_secret_value() if settings.master_key else None
    try:
        # With the key in the environment there is no file to write: the new key is given.
        pending = None if master is None else _new_key()
        with database(settings) as sessions, sessions() as session:
            keyring = open_keyring(
                session, master_key=master, data_dir=settings.data_dir, pending=pending
            )
            rotation = store.rotate_key(
                session,
                keyring,
                actor=CliActor.current(),
                pause_seconds=args.pause_seconds,
                progress=lambda line: print(line, file=sys.stderr, flush=True),
            )
    except SecretsError as exc:
        return _fail(exc)
    print(
        f"Re-encrypted {rotation.reencrypted} secret(s) under key {rotation.new_key_id}"
        + (f" (was {', '.join(rotation.old_key_ids)})." if rotation.old_key_ids else ".")
    )
    if master is not None:
        print("Now set CODEHOOK_MASTER_KEY to the new key and restart the service and workers.")
    return 0


def _new_key() -> MasterKey:
    return parse_key(_read_value("New master key (base64, 32 bytes): "), source="the new key")


def _read_value(prompt: str) -> str:
    """A value from stdin when it is not a terminal, else a prompt that does not echo."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    value = sys.stdin.read()
    # `echo value | codehook secrets set NAME` adds a newline that is not part of the value.
    return value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")


def _fail(exc: Exception) -> int:
    print(f"codehook secrets: {exc}", file=sys.stderr)
    return 1
