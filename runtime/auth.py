"""API tokens: roles, issuing, Bearer verification and the role check (framework-free).

AuthError
├── NotAuthenticated   no token, a malformed header, or an unknown/revoked token (401)
└── PermissionDenied   a valid token whose role is too weak (403)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from runtime.db import tokens
from runtime.db.models import ApiToken, utcnow

TOKEN_PREFIX = "chk_"  # noqa: S105 (a prefix that makes leaked tokens easy to scan for)
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    def satisfies(self, required: Role) -> bool:
        """True when this role may do what `required` may (admin > editor > viewer)."""
        return _RANK[self] >= _RANK[required]


_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


class AuthError(Exception):
    pass


class NotAuthenticated(AuthError):
    pass


class PermissionDenied(AuthError):
    def __init__(self, have: Role, need: Role) -> None:
        self.have = have
        self.need = need
        super().__init__(f"this needs the {need.value} role; the token has {have.value}")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Who is calling; never carries the token itself."""

    id: int
    name: str
    role: Role


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # A plain sha256 is enough: tokens carry 256 random bits, so there is nothing to
    # brute-force or look up in a table, which is what slow salted hashes (bcrypt, argon2)
    # protect against for human-chosen passwords. It also lets us find a token by hash.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, *, role: Role, name: str) -> tuple[TokenInfo, str]:
    """Store a new token (by hash) and return it; the plain token is never retrievable again."""
    token = generate_token()
    row = tokens.create_token(session, name=name, role=role.value, token_hash=hash_token(token))
    return _info(row), token


def verify_bearer(session: Session, header: str | None) -> TokenInfo | None:
    """The active token named by an `Authorization: Bearer <token>` header, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        return None
    row = tokens.get_active_token(session, token_hash=hash_token(token))
    if row is None:
        return None
    now = utcnow()
    stale_before = now - LAST_USED_RESOLUTION
    if row.last_used_at is None or row.last_used_at < stale_before:
        tokens.mark_used(session, token_id=row.id, now=now, stale_before=stale_before)
    return _info(row)


def require(token: TokenInfo | None, role: Role) -> TokenInfo:
    """The caller if its role satisfies `role`; else NotAuthenticated or PermissionDenied."""
    if token is None:
        raise NotAuthenticated("a valid 'Authorization: Bearer <token>' header is required")
    if not token.role.satisfies(role):
        raise PermissionDenied(token.role, role)
    return token


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(id=row.id, name=row.name, role=Role(row.role))
