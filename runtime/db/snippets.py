"""Snippets and their immutable versions.

Every change makes a new version; the snippet's `current_version` is always its newest
one, so version numbers in the execution log grow with time. A rollback therefore
publishes a *copy* of the earlier version as a new number (like `git revert`) rather than
moving a pointer back: history only ever grows and says who rolled back to what. Saving
exactly the current code and settings again is a no-op, so a retried PUT makes no
duplicate version.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from runtime.db.engine import begin_write
from runtime.db.exceptions import SnippetExists, SnippetNotFound, VersionNotFound
from runtime.db.models import Snippet, SnippetVersion, utcnow
from runtime.db.pagination import DEFAULT_LIMIT, Page, clamp_limit, decode_cursor, page_of

HOOK_TOKEN_PREFIX = "chh_"  # noqa: S105 (a prefix, not a secret)


def content_hash(code: str, settings: dict[str, Any]) -> str:
    """sha256 hex over the code and the settings, in a canonical JSON form."""
    canonical = json.dumps(
        {"code": code, "settings": settings}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_hook_token() -> str:
    return HOOK_TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_snippet(
    session: Session,
    *,
    name: str,
    code: str,
    settings: dict[str, Any],
    created_by: str | None = None,
) -> Snippet:
    """Create a snippet with version 1; SnippetExists when a live snippet has the name."""
    begin_write(session)
    now = utcnow()
    snippet = Snippet(
        name=name, hook_token=new_hook_token(), current_version=1, created_at=now, updated_at=now
    )
    session.add(snippet)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise SnippetExists(name) from exc
    version = _new_version(snippet, 1, code, settings, created_by, rolled_back_from=None)
    session.add(version)
    session.commit()
    set_committed_value(snippet, "current", version)
    return snippet


def get_snippet(session: Session, *, name: str) -> Snippet | None:
    """The live (not deleted) snippet called `name`, with its current version loaded."""
    return session.scalars(
        select(Snippet).where(Snippet.name == name, Snippet.deleted_at.is_(None))
    ).one_or_none()


def list_snippets(
    session: Session, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> Page[Snippet]:
    """Live snippets ordered by name."""
    limit = clamp_limit(limit)
    query = select(Snippet).where(Snippet.deleted_at.is_(None)).order_by(Snippet.name)
    if cursor is not None:
        (after,) = decode_cursor(cursor, [str])
        query = query.where(Snippet.name > after)
    rows = session.scalars(query.limit(limit + 1)).all()
    return page_of(rows, limit, lambda snippet: (snippet.name,))


def add_version(
    session: Session,
    *,
    snippet: Snippet,
    code: str,
    settings: dict[str, Any],
    created_by: str | None = None,
) -> tuple[SnippetVersion, bool]:
    """Publish new code/settings as the next version; `(current, False)` if nothing changed."""
    begin_write(session)
    _lock(session, snippet)
    if snippet.current.content_hash == content_hash(code, settings):
        session.commit()
        return snippet.current, False
    version = _publish(session, snippet, code, settings, created_by, rolled_back_from=None)
    return version, True


def rollback(
    session: Session, *, snippet: Snippet, to_version: int, created_by: str | None = None
) -> tuple[SnippetVersion, bool]:
    """Publish a copy of version `to_version` as the next version; a no-op as in add_version."""
    begin_write(session)
    _lock(session, snippet)
    source = get_version(session, snippet=snippet, number=to_version)
    if source is None:
        session.rollback()
        raise VersionNotFound(snippet.name, to_version)
    if source.content_hash == snippet.current.content_hash:
        session.commit()
        return snippet.current, False
    version = _publish(
        session, snippet, source.code, source.settings, created_by, rolled_back_from=to_version
    )
    return version, True


def get_version(session: Session, *, snippet: Snippet, number: int) -> SnippetVersion | None:
    return session.get(SnippetVersion, (snippet.id, number))


def list_versions(
    session: Session, *, snippet: Snippet, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> Page[SnippetVersion]:
    """The snippet's versions, newest first."""
    limit = clamp_limit(limit)
    query = (
        select(SnippetVersion)
        .where(SnippetVersion.snippet_id == snippet.id)
        .order_by(SnippetVersion.number.desc())
    )
    if cursor is not None:
        (before,) = decode_cursor(cursor, [int])
        query = query.where(SnippetVersion.number < before)
    rows = session.scalars(query.limit(limit + 1)).all()
    return page_of(rows, limit, lambda version: (version.number,))


def delete_snippet(session: Session, *, snippet: Snippet) -> None:
    """Soft delete: versions and executions stay; the name can be used again."""
    begin_write(session)
    _lock(session, snippet)
    snippet.deleted_at = snippet.updated_at = utcnow()
    session.commit()


def rotate_hook_token(session: Session, *, snippet: Snippet) -> str:
    """Replace the snippet's hook token; the old one stops working at once."""
    begin_write(session)
    _lock(session, snippet)
    snippet.hook_token = new_hook_token()
    snippet.updated_at = utcnow()
    session.commit()
    return snippet.hook_token


def _lock(session: Session, snippet: Snippet) -> None:
    # Re-read (and on PostgreSQL lock) the row so concurrent writers number versions in turn.
    session.refresh(snippet, with_for_update=True)
    if snippet.deleted_at is not None:
        session.rollback()
        raise SnippetNotFound(snippet.name)


def _publish(
    session: Session,
    snippet: Snippet,
    code: str,
    settings: dict[str, Any],
    created_by: str | None,
    *,
    rolled_back_from: int | None,
) -> SnippetVersion:
    newest = session.scalar(
        select(func.max(SnippetVersion.number)).where(SnippetVersion.snippet_id == snippet.id)
    )
    version = _new_version(snippet, (newest or 0) + 1, code, settings, created_by, rolled_back_from)
    session.add(version)
    snippet.current_version = version.number
    snippet.updated_at = version.created_at
    session.commit()
    set_committed_value(snippet, "current", version)
    return version


def _new_version(
    snippet: Snippet,
    number: int,
    code: str,
    settings: dict[str, Any],
    created_by: str | None,
    rolled_back_from: int | None,
) -> SnippetVersion:
    return SnippetVersion(
        snippet_id=snippet.id,
        number=number,
        code=code,
        content_hash=content_hash(code, settings),
        settings=settings,
        created_at=utcnow(),
        created_by=created_by,
        rolled_back_from=rolled_back_from,
    )
