"""API tokens (admin): list with last-used times, create (shown once), revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from runtime.api.deps import Admin, SessionDep, json_body
from runtime.api.errors import ApiError
from runtime.api.routes.audit import PRINTABLE
from runtime.auth import Role, issue_token
from runtime.db import audit
from runtime.db import tokens as store
from runtime.db.models import ApiToken

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], dependencies=[Depends(json_body)])


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=PRINTABLE),
    ]


@router.get("")
def list_tokens(session: SessionDep, caller: Admin, all: bool = False) -> dict[str, Any]:
    """Tokens (never their values), oldest first; `all=true` includes revoked ones."""
    rows = store.list_tokens(session, include_revoked=all)
    return {"items": [token_view(row) for row in rows], "nextCursor": None}


@router.post("", status_code=201)
def create_token(body: TokenCreate, session: SessionDep, caller: Admin) -> dict[str, Any]:
    """A new token; its value is in this answer only."""
    info, token = issue_token(session, role=body.role, name=body.name)
    audit.record(
        session,
        actor=caller,
        action="token.created",
        target=str(info.id),
        details={"name": info.name, "role": info.role.value},
    )
    row = session.get(ApiToken, info.id)
    assert row is not None
    return {**token_view(row), "token": token}


@router.delete("/{token_id}", status_code=204)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, caller: Admin
) -> Response:
    row = store.revoke_token(session, token_id=token_id)
    if row is None:
        raise ApiError(404, "not_found", f"no token with id {token_id}")
    audit.record(
        session,
        actor=caller,
        action="token.revoked",
        target=str(row.id),
        details={"name": row.name, "role": row.role},
    )
    return Response(status_code=204)


def token_view(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "createdAt": row.created_at.isoformat(),
        "lastUsedAt": row.last_used_at.isoformat() if row.last_used_at else None,
        "revokedAt": row.revoked_at.isoformat() if row.revoked_at else None,
    }
