"""Secrets as the API and CLI see them: validated, encrypted, audited, decrypted on grant."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from runtime.config import Settings
from runtime.db import secrets as rows
from runtime.db.audit import Actor
from runtime.db.models import Secret
from runtime.secrets.cipher import Sealed, seal, unseal
from runtime.secrets.exceptions import (
    InvalidSecret,
    MasterKeyError,
    SecretNotFound,
    SecretTooLarge,
    SecretUnreadable,
)
from runtime.secrets.keys import KEY_FILE, Keyring, MasterKey, load_keyring

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
MAX_VALUE_BYTES = 8 * 1024
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """What may be shown about a secret: everything but its value."""

    name: str
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    granted_to: list[str] = field(default_factory=list)


def validate_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidSecret(
            f"secret names are 1-64 letters, digits and underscores, not starting with a digit "
            f"({NAME_PATTERN}), got {name!r}"
        )
    return name


def validate_value(value: object) -> str:
    """The value if the store takes it; the error never quotes it."""
    if not isinstance(value, str):
        raise InvalidSecret(f"a secret value is a string, got {type(value).__name__}")
    if not value:
        raise InvalidSecret("a secret value cannot be empty")
    size = len(value.encode())
    if size > MAX_VALUE_BYTES:
        raise SecretTooLarge(size, MAX_VALUE_BYTES)
    return value


def open_keyring(
    session: Session, *, master_key: str | None, data_dir: Path, pending: MasterKey | None = None
) -> Keyring:
    """The keyring, checked against the stored secrets; MasterKeyError when it cannot read them.

    A key is generated into the data folder only while no secret is stored, so a lost key
    file is reported instead of silently replaced. `pending` is a new key being rotated to
    (given on the command line when the key comes from the environment).
    """
    stored = rows.key_ids(session)
    session.rollback()
    keyring = load_keyring(master_key, data_dir, create=not stored)
    if keyring is None:
        raise MasterKeyError(
            f"no master key: CODEHOOK_MASTER_KEY is unset and {data_dir.resolve() / KEY_FILE} "
            f"does not exist, but {sum(stored.values())} secret(s) are stored encrypted under "
            f"key id(s) {', '.join(sorted(stored))}; restore the key file or set the key"
        )
    if pending is not None:
        keyring.pending = pending
    unknown = {key_id: count for key_id, count in stored.items() if key_id not in keyring.ids}
    if unknown:
        described = ", ".join(f"{count} under key id {key_id}" for key_id, count in unknown.items())
        raise MasterKeyError(
            f"the configured master key (id {keyring.current.key_id}) cannot decrypt the stored "
            f"secrets ({described}); set CODEHOOK_MASTER_KEY to the key they were written with"
            + (
                ", or finish an interrupted `codehook secrets rotate-key`"
                if keyring.folder is None
                else ""
            )
        )
    return keyring


def put(
    session: Session, keyring: Keyring | None, *, name: str, value: object, actor: Actor
) -> bool:
    """Create or rotate a secret; True when created. The audit row says which."""
    validate_name(name)
    keyring = _loaded(keyring)
    keyring.reload()  # a rotation the CLI started since this process began writes the new key
    sealed = seal(keyring.writer, name, validate_value(value))
    return rows.put_secret(
        session,
        name=name,
        nonce=sealed.nonce,
        ciphertext=sealed.ciphertext,
        key_id=sealed.key_id,
        actor=actor,
    )


def delete(session: Session, *, name: str, actor: Actor) -> None:
    validate_name(name)
    if not rows.delete_secret(session, name=name, actor=actor):
        raise SecretNotFound(name)


def listing(session: Session) -> list[SecretInfo]:
    granted = rows.grants(session)
    return [
        SecretInfo(
            name=row.name,
            created_at=row.created_at,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
            granted_to=granted.get(row.name, []),
        )
        for row in rows.list_secrets(session)
    ]


def missing(session: Session, names: Iterable[str]) -> list[str]:
    """The names among `names` that no stored secret has."""
    wanted = set(names)
    return sorted(wanted - rows.existing_names(session, names=wanted))


def granted(session: Session, names: Iterable[str], keyring: Keyring | None) -> dict[str, str]:
    """The decrypted values of the granted secrets that exist (a deleted one is simply absent)."""
    values: dict[str, str] = {}
    for row in rows.get_secrets(session, names=names):
        keyring = _loaded(keyring)
        key = keyring.get(row.key_id)
        if key is None:
            raise SecretUnreadable(
                row.name, f"it is encrypted under key {row.key_id}, which is not loaded"
            )
        values[row.name] = unseal(key, row.name, _sealed(row))
    return values


def keyring_for(settings: Settings, sessions: sessionmaker[Session]) -> Keyring:
    """The keyring a service or command opens once at start, checked against the database."""
    master_key = settings.master_key.get_secret_value() if settings.master_key else None
    with sessions() as session:
        return open_keyring(session, master_key=master_key, data_dir=settings.data_dir)


def _loaded(keyring: Keyring | None) -> Keyring:
    if keyring is None:
        raise MasterKeyError("no master key is loaded in this process")
    return keyring


def _sealed(row: Secret) -> Sealed:
    return Sealed(nonce=row.nonce, ciphertext=row.ciphertext, key_id=row.key_id)
