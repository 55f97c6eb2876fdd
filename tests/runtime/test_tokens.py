"""API tokens: issuing, hashing, Bearer verification, roles, and `codehook token`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime.auth import (
    NotAuthenticated,
    PermissionDenied,
    Role,
    TokenInfo,
    hash_token,
    issue_token,
    require,
    verify_bearer,
)
from runtime.db import create_engine_for_url, create_session_factory
from runtime.db import tokens as token_store
from runtime.db.models import ApiToken

ROOT = Path(__file__).resolve().parents[2]


def _codehook(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a fresh interpreter with only `env` as Codehook configuration."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CODEHOOK_")}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", "import sys; from runtime.cli import main; sys.exit(main())", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_issued_token_verifies_with_its_role(session: Session) -> None:
    """A new token authenticates as its name and role through a Bearer header."""
    info, token = issue_token(session, role=Role.EDITOR, name="ci")
    assert token.startswith("chk_") and len(token) > 40
    assert verify_bearer(session, f"Bearer {token}") == info
    assert info.role is Role.EDITOR and info.name == "ci"


def test_tokens_are_stored_only_as_hashes(session: Session) -> None:
    """The database holds the sha256 of a token, never the token."""
    _, token = issue_token(session, role=Role.ADMIN, name="root")
    row = session.scalars(select(ApiToken)).one()
    assert row.token_hash == hash_token(token) != token
    assert token not in repr(vars(row))


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic Y2hrXzE=", "Bearer chk_unknown", "Bearer not-a-token"],
)
def test_missing_malformed_or_unknown_tokens_do_not_verify(
    session: Session, header: str | None
) -> None:
    """No header, another scheme, or an unknown token authenticates nobody."""
    issue_token(session, role=Role.ADMIN, name="root")
    assert verify_bearer(session, header) is None


def test_bearer_scheme_is_case_insensitive(session: Session) -> None:
    """`bearer` and surrounding spaces are accepted as HTTP allows."""
    info, token = issue_token(session, role=Role.VIEWER, name="dash")
    assert verify_bearer(session, f"  bearer {token} ") == info


def test_revoked_token_no_longer_verifies(session: Session) -> None:
    """Revoking keeps the row for the record but the token stops working at once."""
    info, token = issue_token(session, role=Role.ADMIN, name="root")
    revoked = token_store.revoke_token(session, token_id=info.id)
    assert revoked is not None and revoked.revoked_at is not None
    assert verify_bearer(session, f"Bearer {token}") is None
    assert token_store.list_tokens(session) == []
    assert [t.id for t in token_store.list_tokens(session, include_revoked=True)] == [info.id]
    assert token_store.revoke_token(session, token_id=999) is None


def test_last_used_is_written_at_most_once_a_minute(session: Session) -> None:
    """Verification records last use, but not again within the same minute."""
    info, token = issue_token(session, role=Role.VIEWER, name="dash")
    verify_bearer(session, f"Bearer {token}")
    row = session.get(ApiToken, info.id)
    assert row is not None and row.last_used_at is not None
    first = row.last_used_at
    verify_bearer(session, f"Bearer {token}")
    session.refresh(row)
    assert row.last_used_at == first

    row.last_used_at = first - timedelta(minutes=2)
    session.commit()
    verify_bearer(session, f"Bearer {token}")
    session.refresh(row)
    assert row.last_used_at is not None and row.last_used_at > first - timedelta(minutes=1)


@pytest.mark.parametrize(
    ("have", "need", "allowed"),
    [
        (Role.ADMIN, Role.ADMIN, True),
        (Role.ADMIN, Role.VIEWER, True),
        (Role.EDITOR, Role.EDITOR, True),
        (Role.EDITOR, Role.VIEWER, True),
        (Role.EDITOR, Role.ADMIN, False),
        (Role.VIEWER, Role.EDITOR, False),
        (Role.VIEWER, Role.VIEWER, True),
    ],
)
def test_roles_are_ordered_admin_editor_viewer(have: Role, need: Role, allowed: bool) -> None:
    """A stronger role may do everything a weaker one may; a weaker one is refused (403)."""
    caller = TokenInfo(id=1, name="t", role=have)
    if allowed:
        assert require(caller, need) is caller
    else:
        with pytest.raises(PermissionDenied, match=f"needs the {need.value} role"):
            require(caller, need)


def test_require_without_token_is_not_authenticated() -> None:
    """No valid token is a 401, not a 403."""
    with pytest.raises(NotAuthenticated):
        require(None, Role.VIEWER)


def test_cli_token_create_prints_token_alone_on_last_line(tmp_path: Path) -> None:
    """`token create` makes the database in DATA_DIR and prints a working token last."""
    data = tmp_path / "data"
    result = _codehook(
        "token", "create", "--role", "admin", "--name", "first",
        env={"CODEHOOK_DATA_DIR": str(data)},
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    token = lines[-1]
    assert token.startswith("chk_") and token == token.strip() and " " not in token
    assert len(lines) > 1, "a short explanation comes before the token"
    assert str(data / "codehook.db") in result.stderr

    engine = create_engine_for_url(f"sqlite:///{data / 'codehook.db'}")
    with create_session_factory(engine)() as session:
        info = verify_bearer(session, f"Bearer {token}")
    engine.dispose()
    assert info is not None and info.role is Role.ADMIN and info.name == "first"


def test_cli_token_list_and_revoke(database_url: str, tmp_path: Path) -> None:
    """`token list` shows tokens without values; `token revoke ID` disables one."""
    env = {"CODEHOOK_DATABASE_URL": database_url}
    created = _codehook("token", "create", "--role", "viewer", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    token = created.stdout.splitlines()[-1]

    listed = _codehook("token", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "viewer-" in listed.stdout and token not in listed.stdout

    revoked = _codehook("token", "revoke", "1", env=env, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    missing = _codehook("token", "revoke", "42", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and "no token with id 42" in missing.stderr

    engine = create_engine_for_url(database_url)
    with create_session_factory(engine)() as session:
        assert verify_bearer(session, f"Bearer {token}") is None
    engine.dispose()


def test_cli_token_create_refuses_unknown_role(tmp_path: Path) -> None:
    """Only admin, editor and viewer are roles."""
    result = _codehook(
        "token", "create", "--role", "owner", env={"CODEHOOK_DATA_DIR": str(tmp_path)}, cwd=tmp_path
    )
    assert result.returncode == 2 and "invalid choice: 'owner'" in result.stderr
