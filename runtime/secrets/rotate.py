"""`rotate-key`: re-encrypt every secret under a new master key, resumable after a crash.

With keys in the data folder the new key is first written to `master.key.new`; each
secret is then re-encrypted in its own transaction, and only when none is left under
the old key is `master.key.new` renamed over `master.key`. Killed at any point, the
folder still holds every key some secret needs, and running it again finishes the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime.db import audit
from runtime.db import secrets as rows
from runtime.db.audit import Actor
from runtime.db.models import Secret
from runtime.secrets.cipher import Sealed, seal, unseal
from runtime.secrets.exceptions import MasterKeyError, SecretUnreadable
from runtime.secrets.keys import (
    PENDING_KEY_FILE,
    Keyring,
    MasterKey,
    create_key_file,
    promote_pending,
)


@dataclass(frozen=True, slots=True)
class Rotation:
    old_key_ids: list[str]
    new_key_id: str
    reencrypted: int


def rotate_key(
    session: Session,
    keyring: Keyring,
    *,
    actor: Actor,
    pause_seconds: float = 0.0,
    progress: Callable[[str], None] = lambda line: None,
) -> Rotation:
    """Re-encrypt every secret under `keyring.pending` (made here when the keys are files)."""
    if keyring.folder is not None and keyring.pending is None:
        create_key_file(keyring.folder / PENDING_KEY_FILE, MasterKey.generate())
        keyring.reload()
    target = keyring.pending
    if target is None:
        raise MasterKeyError("the master key comes from CODEHOOK_MASTER_KEY: give the new key")
    old_ids: set[str] = set()
    done = 0
    while True:
        # Looked up again until none is left: a secret set meanwhile is caught too.
        todo = session.execute(
            select(Secret.name, Secret.key_id).where(Secret.key_id != target.key_id)
        ).all()
        session.rollback()
        if not todo:
            break
        for name, key_id in todo:
            _reencrypt(session, keyring, target, name, key_id)
            old_ids.add(key_id)
            done += 1
            progress(f"re-encrypted {name}")
            if pause_seconds:
                time.sleep(pause_seconds)
    if keyring.folder is not None:
        promote_pending(keyring.folder)
        keyring.reload()
    audit.record(
        session,
        actor=actor,
        action="master_key.rotated",
        target=target.key_id,
        details={"from": sorted(old_ids), "reencrypted": done},
    )
    return Rotation(old_key_ids=sorted(old_ids), new_key_id=target.key_id, reencrypted=done)


def _reencrypt(
    session: Session, keyring: Keyring, target: MasterKey, name: str, key_id: str
) -> None:
    row = rows.get_secret(session, name=name)
    session.rollback()
    if row is None or row.key_id != key_id:
        return  # deleted or rewritten since the listing
    old = keyring.get(key_id)
    if old is None:
        raise SecretUnreadable(name, f"it is encrypted under key {key_id}, which is not loaded")
    value = unseal(old, name, Sealed(nonce=row.nonce, ciphertext=row.ciphertext, key_id=key_id))
    sealed = seal(target, name, value)
    rows.reencrypt(
        session,
        name=name,
        old_key_id=key_id,
        nonce=sealed.nonce,
        ciphertext=sealed.ciphertext,
        key_id=sealed.key_id,
    )
