"""API tokens, stored by hash only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runtime.db.engine import begin_write
from runtime.db.models import ApiToken, utcnow


def create_token(session: Session, *, name: str, role: str, token_hash: str) -> ApiToken:
    begin_write(session)
    token = ApiToken(name=name, role=role, token_hash=token_hash, created_at=utcnow())
    session.add(token)
    session.commit()
    return token


def get_active_token(session: Session, *, token_hash: str) -> ApiToken | None:
    """The token with this hash unless it was revoked."""
    return session.scalars(
        select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    ).one_or_none()


def list_tokens(session: Session, *, include_revoked: bool = False) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_token(session: Session, *, token_id: int) -> ApiToken | None:
    """Revoke the token (kept for the record); None when there is no such token."""
    begin_write(session)
    token = session.get(ApiToken, token_id)
    if token is None:
        session.rollback()
        return None
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    session.commit()
    return token


def mark_used(session: Session, *, token_id: int, now: datetime, stale_before: datetime) -> None:
    """Set last_used_at to `now` unless it is already newer than `stale_before`."""
    begin_write(session)
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < stale_before),
        )
        .values(last_used_at=now)
    )
    session.commit()
