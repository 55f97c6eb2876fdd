"""Secrets at rest: AES-GCM under the master key, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runtime import secrets
from runtime.cli._store import CliActor
from runtime.db.models import AuditEntry, Secret
from runtime.secrets import MasterKey, MasterKeyError, SecretUnreadable, open_keyring, parse_key
from runtime.secrets.keys import KEY_FILE

ACTOR = CliActor(id=None, name="cli:test")
VALUE = "sk-live-4f1e9a0c7d"


def _keyring(session: Session, data_dir: Path, master_key: str | None = None) -> secrets.Keyring:
    return open_keyring(session, master_key=master_key, data_dir=data_dir)


def test_secret_round_trips_and_is_not_stored_in_clear(session: Session, tmp_path: Path) -> None:
    """A stored secret decrypts to its value; its row holds neither the value nor a known encoding."""
    keyring = _keyring(session, tmp_path)
    assert secrets.put(session, keyring, name="hstoken", value=VALUE, actor=ACTOR) is True

    row = session.scalars(select(Secret)).one()
    assert VALUE.encode() not in row.ciphertext and len(row.nonce) == 12
    assert row.key_id == keyring.current.key_id and row.updated_by == "cli:test"
    assert secrets.granted(session, ["hstoken", "DELETED"], keyring) == {"hstoken": VALUE}


def test_putting_again_rotates_and_is_audited_without_value(
    session: Session, tmp_path: Path
) -> None:
    """A second put rotates the value; the audit says created then rotated and never the value."""
    keyring = _keyring(session, tmp_path)
    secrets.put(session, keyring, name="hstoken", value=VALUE, actor=ACTOR)
    assert (
        secrets.put(session, keyring, name="hstoken", value="another-value", actor=ACTOR) is False
    )

    assert secrets.granted(session, ["hstoken"], keyring) == {"hstoken": "another-value"}
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [row.action for row in rows] == ["secret.created", "secret.rotated"]
    assert VALUE not in repr([(r.details, r.target, r.action) for r in rows])


def test_names_are_case_sensitive(session: Session, tmp_path: Path) -> None:
    """`hstoken` and `HSTOKEN` are two secrets."""
    keyring = _keyring(session, tmp_path)
    secrets.put(session, keyring, name="hstoken", value="lower-value", actor=ACTOR)
    secrets.put(session, keyring, name="HSTOKEN", value="upper-value", actor=ACTOR)

    assert secrets.granted(session, ["hstoken", "HSTOKEN"], keyring) == {
        "hstoken": "lower-value",
        "HSTOKEN": "upper-value",
    }


def test_tampered_ciphertext_is_detected_not_decrypted(session: Session, tmp_path: Path) -> None:
    """A flipped ciphertext bit fails authentication with an error naming the secret."""
    keyring = _keyring(session, tmp_path)
    secrets.put(session, keyring, name="hstoken", value=VALUE, actor=ACTOR)
    row = session.scalars(select(Secret)).one()
    flipped = bytes([row.ciphertext[0] ^ 1]) + row.ciphertext[1:]
    session.execute(update(Secret).values(ciphertext=flipped))
    session.commit()

    with pytest.raises(
        SecretUnreadable, match="'hstoken' cannot be decrypted: it fails authentication"
    ):
        secrets.granted(session, ["hstoken"], keyring)


def test_ciphertext_moved_to_another_name_is_refused(session: Session, tmp_path: Path) -> None:
    """The name is bound as associated data: copying one row's ciphertext onto another fails."""
    keyring = _keyring(session, tmp_path)
    secrets.put(session, keyring, name="admin_key", value="very-secret-admin", actor=ACTOR)
    secrets.put(session, keyring, name="public_key", value="harmless-value", actor=ACTOR)
    admin = session.get(Secret, "admin_key")
    assert admin is not None
    nonce, ciphertext = admin.nonce, admin.ciphertext
    session.execute(
        update(Secret).where(Secret.name == "public_key").values(nonce=nonce, ciphertext=ciphertext)
    )
    session.commit()

    with pytest.raises(SecretUnreadable, match="public_key"):
        secrets.granted(session, ["public_key"], keyring)


def test_first_start_generates_key_file_0600_with_warning(
    session: Session, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without CODEHOOK_MASTER_KEY a 32-byte key is written to the data folder, mode 0600."""
    with caplog.at_level(logging.WARNING, logger="codehook.secrets"):
        keyring = _keyring(session, tmp_path)

    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.urlsafe_b64decode(path.read_text().strip())) == 32
    assert "generated a new master key" in caplog.text
    assert keyring.current.encoded() not in caplog.text
    assert _keyring(session, tmp_path).current.key_id == keyring.current.key_id


def test_wrong_key_is_refused_at_start(session: Session, tmp_path: Path) -> None:
    """Secrets written under one key make opening with another fail, naming both key ids."""
    first = MasterKey.generate()
    keyring = _keyring(session, tmp_path, first.encoded())
    secrets.put(session, keyring, name="hstoken", value=VALUE, actor=ACTOR)
    other = MasterKey.generate()

    with pytest.raises(MasterKeyError) as caught:
        _keyring(session, tmp_path, other.encoded())

    message = str(caught.value)
    assert other.key_id in message and first.key_id in message
    assert other.encoded() not in message and first.encoded() not in message


def test_lost_key_file_is_reported_not_replaced(session: Session, tmp_path: Path) -> None:
    """With secrets stored and the key file gone, opening fails and no new key is made."""
    keyring = _keyring(session, tmp_path)
    secrets.put(session, keyring, name="hstoken", value=VALUE, actor=ACTOR)
    (tmp_path / KEY_FILE).unlink()

    with pytest.raises(MasterKeyError, match="no master key"):
        _keyring(session, tmp_path)
    assert not (tmp_path / KEY_FILE).exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (base64.b64encode(b"k" * 16).decode(), "decodes to 16"),
        (base64.b64encode(b"k" * 33).decode(), "decodes to 33"),
        ("not base64 at all!", "is not base64"),
        ("", "decodes to 0"),
    ],
)
def test_master_key_of_wrong_form_is_a_clear_error(text: str, expected: str) -> None:
    """A key that is not 32 bytes of base64 is refused, naming the setting and not echoing it."""
    with pytest.raises(MasterKeyError, match=expected) as caught:
        parse_key(text, source="CODEHOOK_MASTER_KEY")
    assert "CODEHOOK_MASTER_KEY" in str(caught.value)
    assert not text or text not in str(caught.value)


def test_key_and_keyring_reprs_hide_the_key() -> None:
    """A key shows only its id when printed or logged."""
    key = MasterKey.generate()
    assert key.encoded() not in repr(key) and key.key_id in repr(key)


@pytest.mark.parametrize("name", ["1st", "has-dash", "with space", "x" * 65, "", "é", "a\x00"])
def test_odd_names_are_refused(session: Session, tmp_path: Path, name: str) -> None:
    """Names outside [A-Za-z_][A-Za-z0-9_]{0,63} are refused and nothing is stored."""
    keyring = _keyring(session, tmp_path)
    with pytest.raises(secrets.InvalidSecret, match="secret names are"):
        secrets.put(session, keyring, name=name, value=VALUE, actor=ACTOR)
    assert session.scalars(select(Secret)).all() == []


def test_oversized_value_is_refused_without_quoting_it(session: Session, tmp_path: Path) -> None:
    """A value over 8 KiB (UTF-8 bytes) is refused with its size, and nothing is stored."""
    keyring = _keyring(session, tmp_path)
    secrets.put(session, keyring, name="limit", value="é" * 4096, actor=ACTOR)  # 8,192 bytes
    with pytest.raises(secrets.SecretTooLarge, match=r"at most 8192 bytes .*got 8194") as caught:
        secrets.put(session, keyring, name="big", value="é" * 4097, actor=ACTOR)
    assert "é" not in str(caught.value)
    assert secrets.missing(session, ["big", "limit"]) == ["big"]
