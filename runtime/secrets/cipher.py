"""AES-256-GCM for secret values, with the secret's name and key id bound as associated data.

Binding the name means a ciphertext copied onto another secret's row fails
authentication instead of decrypting to that other secret's value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from runtime.secrets.exceptions import SecretUnreadable
from runtime.secrets.keys import MasterKey

NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Sealed:
    """One encrypted value as stored: nonce, ciphertext (with the GCM tag) and key id."""

    nonce: bytes
    ciphertext: bytes
    key_id: str

    def __repr__(self) -> str:
        return f"Sealed(key_id={self.key_id!r}, bytes={len(self.ciphertext)})"


def seal(key: MasterKey, name: str, value: str) -> Sealed:
    nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonce per value, as GCM requires
    ciphertext = key.aead().encrypt(nonce, value.encode(), _associated(name, key.key_id))
    return Sealed(nonce=nonce, ciphertext=ciphertext, key_id=key.key_id)


def unseal(key: MasterKey, name: str, sealed: Sealed) -> str:
    """The value; SecretUnreadable when the row was changed (ciphertext, nonce, name or key id)."""
    if key.key_id != sealed.key_id:
        raise SecretUnreadable(name, f"it is encrypted under key {sealed.key_id}, not {key.key_id}")
    try:
        plain = key.aead().decrypt(
            sealed.nonce, sealed.ciphertext, _associated(name, sealed.key_id)
        )
    except InvalidTag:
        raise SecretUnreadable(
            name,
            "it fails authentication: its ciphertext, nonce or name was changed in the database",
        ) from None
    except ValueError as exc:  # e.g. a nonce of the wrong length
        raise SecretUnreadable(name, f"its stored form is malformed ({exc})") from None
    return plain.decode()


def _associated(name: str, key_id: str) -> bytes:
    return b"codehook secret v1\0" + name.encode() + b"\0" + key_id.encode()
