"""The master key: parsed from `CODEHOOK_MASTER_KEY`, or kept in the data folder (mode 0600).

Each key has an id (a fingerprint that reveals nothing of the key), stored with every
secret, so a wrong key is recognised at start instead of failing at execution time.
During `codehook secrets rotate-key` the data folder holds the new key as
`master.key.new` next to the old `master.key` until every secret is re-encrypted; a
`Keyring` reads with both and writes with the new one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from runtime.secrets.exceptions import MasterKeyError

KEY_BYTES = 32
KEY_FILE = "master.key"
PENDING_KEY_FILE = "master.key.new"

log = logging.getLogger("codehook.secrets")


class MasterKey:
    """A 256-bit AES-GCM key; its repr shows only the key id."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise MasterKeyError(f"a master key is {KEY_BYTES} bytes, got {len(key)}")
        self._key = key
        self.key_id = hashlib.sha256(b"codehook master key id\0" + key).hexdigest()[:16]

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    def aead(self) -> AESGCM:
        return AESGCM(self._key)

    def encoded(self) -> str:
        """The form `CODEHOOK_MASTER_KEY` and the key file take: URL-safe base64."""
        return base64.urlsafe_b64encode(self._key).decode()

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


def parse_key(text: str, *, source: str) -> MasterKey:
    """A key from base64 text (standard or URL-safe); MasterKeyError names `source`, never the text."""
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        alphabet = b"-_" if "-" in cleaned or "_" in cleaned else None
        raw = base64.b64decode(padded, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError(
            f"{source} is not base64; make a key with `openssl rand -base64 32`"
        ) from exc
    if len(raw) != KEY_BYTES:
        raise MasterKeyError(
            f"{source} must decode to {KEY_BYTES} bytes (AES-256), it decodes to {len(raw)}; "
            "make a key with `openssl rand -base64 32`"
        )
    return MasterKey(raw)


class Keyring:
    """The key new ciphertexts are written with, and every key stored ones may be read with."""

    def __init__(self, current: MasterKey, *, pending: MasterKey | None, folder: Path | None):
        self.current = current
        self.pending = pending
        # Set when the keys live in files: a rotation by the CLI is picked up on reload().
        self.folder = folder

    @property
    def writer(self) -> MasterKey:
        """A rotation in progress writes with the new key, so no secret is left behind."""
        return self.pending or self.current

    @property
    def ids(self) -> set[str]:
        return {key.key_id for key in (self.current, self.pending) if key is not None}

    def get(self, key_id: str) -> MasterKey | None:
        """The key with this id; re-reads the key files once when it is unknown (a rotation)."""
        for key in (self.current, self.pending):
            if key is not None and key.key_id == key_id:
                return key
        if self.folder is not None and self.reload():
            return self.get(key_id)
        return None

    def reload(self) -> bool:
        """Re-read the key files; True when they changed."""
        if self.folder is None:
            return False
        current = read_key_file(self.folder / KEY_FILE)
        pending = read_key_file(self.folder / PENDING_KEY_FILE)
        if current is None:
            return False
        before = self.ids
        self.current, self.pending = current, pending
        return self.ids != before

    def __repr__(self) -> str:
        return f"Keyring(ids={sorted(self.ids)!r})"


def load_keyring(master_key: str | None, data_dir: Path, *, create: bool) -> Keyring | None:
    """The configured key (environment first, else the data folder's file).

    Without either, a new key file is made when `create` is true (with a warning), else
    the answer is None.
    """
    if master_key is not None:
        return Keyring(
            parse_key(master_key, source="CODEHOOK_MASTER_KEY"), pending=None, folder=None
        )
    folder = data_dir.resolve()
    current = read_key_file(folder / KEY_FILE)
    if current is None:
        if not create:
            return None
        current = create_key_file(folder / KEY_FILE, MasterKey.generate())
        log.warning(
            "generated a new master key in %s (mode 0600); back it up, or set "
            "CODEHOOK_MASTER_KEY: without it the stored secrets cannot be decrypted",
            folder / KEY_FILE,
        )
    return Keyring(current, pending=read_key_file(folder / PENDING_KEY_FILE), folder=folder)


def read_key_file(path: Path) -> MasterKey | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("master key file %s is readable by others (mode %o); chmod 600 it", path, mode)
    return parse_key(text, source=str(path))


def create_key_file(path: Path, key: MasterKey) -> MasterKey:
    """Write `key` to `path` (0600) unless the file exists; the key the file holds afterwards."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key.encoded() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails when the file exists: two workers starting at once keep one key.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _sync_folder(path.parent)
    existing = read_key_file(path)
    assert existing is not None
    return existing


def promote_pending(folder: Path) -> None:
    """Make `master.key.new` the key (atomic rename); the old key is gone afterwards."""
    os.replace(folder / PENDING_KEY_FILE, folder / KEY_FILE)
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
