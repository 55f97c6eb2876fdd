"""Encrypted secret rows; encryption itself is `runtime.secrets`' job, these are bytes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from runtime.db.audit import Actor, entry
from runtime.db.engine import begin_write
from runtime.db.models import Secret, Snippet, utcnow


def put_secret(
    session: Session,
    *,
    name: str,
    nonce: bytes,
    ciphertext: bytes,
    key_id: str,
    actor: Actor,
) -> bool:
    """Create or replace the secret's ciphertext (with its audit row, in one transaction).

    True when it was created, False when an existing one was rotated.
    """
    begin_write(session)
    now = utcnow()
    row = session.get(Secret, name, with_for_update=True)
    created = row is None
    if row is None:
        row = Secret(name=name, created_at=now)
        session.add(row)
    row.nonce, row.ciphertext, row.key_id = nonce, ciphertext, key_id
    row.updated_at, row.updated_by = now, actor.name
    session.add(entry(actor, "secret.created" if created else "secret.rotated", name))
    session.commit()
    return created


def reencrypt(
    session: Session, *, name: str, old_key_id: str, nonce: bytes, ciphertext: bytes, key_id: str
) -> bool:
    """Swap in a ciphertext under a new key unless the row changed meanwhile; True if swapped."""
    begin_write(session)
    result = session.execute(
        update(Secret)
        .where(Secret.name == name, Secret.key_id == old_key_id)
        .values(nonce=nonce, ciphertext=ciphertext, key_id=key_id)
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


def delete_secret(session: Session, *, name: str, actor: Actor) -> bool:
    """Delete the secret; False when there was none (and nothing is written)."""
    begin_write(session)
    result = session.execute(delete(Secret).where(Secret.name == name))
    if not getattr(result, "rowcount", 0):
        session.rollback()
        return False
    session.add(entry(actor, "secret.deleted", name))
    session.commit()
    return True


def get_secret(session: Session, *, name: str) -> Secret | None:
    return session.get(Secret, name)


def get_secrets(session: Session, *, names: Iterable[str]) -> list[Secret]:
    wanted = sorted(set(names))
    if not wanted:
        return []
    return list(session.scalars(select(Secret).where(Secret.name.in_(wanted))))


def list_secrets(session: Session) -> list[Secret]:
    return list(session.scalars(select(Secret).order_by(Secret.name)))


def existing_names(session: Session, *, names: Iterable[str]) -> set[str]:
    wanted = sorted(set(names))
    if not wanted:
        return set()
    return set(session.scalars(select(Secret.name).where(Secret.name.in_(wanted))))


def key_ids(session: Session) -> dict[str, int]:
    """How many secrets are encrypted under each key id."""
    rows = session.execute(select(Secret.key_id, func.count()).group_by(Secret.key_id))
    return {key_id: count for key_id, count in rows}


def grants(session: Session) -> dict[str, list[str]]:
    """Secret name -> live snippets whose current version is granted it."""
    granted: dict[str, list[str]] = {}
    for snippet in session.scalars(select(Snippet).where(Snippet.deleted_at.is_(None))):
        settings: dict[str, Any] = snippet.current.settings
        for name in settings.get("secrets") or []:
            granted.setdefault(name, []).append(snippet.name)
    return {name: sorted(snippets) for name, snippets in granted.items()}
