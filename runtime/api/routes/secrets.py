"""Secrets (admin): create or rotate, list without values, delete; grants checked for snippets."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from runtime import secrets
from runtime.api.deps import Admin, SessionDep, StateDep, json_body
from runtime.api.errors import ApiError

router = APIRouter(prefix="/v1/secrets", tags=["secrets"], dependencies=[Depends(json_body)])
# A body well above one 8 KiB value (JSON escapes can make it up to 6x longer) is refused unread.
_MAX_BODY_BYTES = 64 * 1024


@router.put("/{name}")
async def put_secret(
    name: str, request: Request, state: StateDep, session: SessionDep, caller: Admin
) -> Response:
    """Create (201) or rotate (200) a secret from `{"value": "..."}`; the value is never echoed."""
    secrets.validate_name(name)
    value = _value(await _body(request))
    created = secrets.put(session, state.keyring, name=name, value=value, actor=caller)
    info = next(item for item in secrets.listing(session) if item.name == name)
    return Response(
        json.dumps(secret_view(info)),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.get("")
def list_secrets(session: SessionDep, caller: Admin) -> dict[str, Any]:
    """Names, times, who changed each last and which snippets' current versions are granted it."""
    return {"items": [secret_view(item) for item in secrets.listing(session)], "nextCursor": None}


@router.delete("/{name}", status_code=204)
def delete_secret(name: str, session: SessionDep, caller: Admin) -> Response:
    """Delete a secret; snippets still granted it get None from os.getenv (a dangling grant)."""
    secrets.delete(session, name=name, actor=caller)
    return Response(status_code=204)


def secret_view(info: secrets.SecretInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "createdAt": info.created_at.isoformat(),
        "updatedAt": info.updated_at.isoformat(),
        "updatedBy": info.updated_by,
        "grantedTo": info.granted_to,
    }


def check_grants(state: StateDep, names: Iterable[str] | None) -> None:
    """422 naming the granted secrets that do not exist (a snippet may only grant real ones)."""
    if not names:
        return
    with state.sessions() as session:
        unknown = secrets.missing(session, names)
    if unknown:
        raise ApiError(
            422,
            "unknown_secret",
            f"the snippet grants secret(s) that do not exist: {', '.join(unknown)}; "
            "create them first with PUT /v1/secrets/{NAME}",
            details={"secrets": unknown},
        )


def dangling_grants(state: StateDep, names: Iterable[str] | None) -> list[str]:
    """The granted secrets that were deleted since (os.getenv gives None for them)."""
    if not names:
        return []
    with state.sessions() as session:
        return secrets.missing(session, names)


async def _body(request: Request) -> Any:
    # Read and parsed here, not by a pydantic model: validation errors quote the input,
    # and the input is the secret.
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > _MAX_BODY_BYTES:
        raise secrets.SecretTooLarge(int(declared), secrets.MAX_VALUE_BYTES)
    raw = await request.body()
    if len(raw) > _MAX_BODY_BYTES:
        raise secrets.SecretTooLarge(len(raw), secrets.MAX_VALUE_BYTES)
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_json", "the request body is not valid JSON") from None


def _value(body: Any) -> str:
    if not isinstance(body, dict) or set(body) != {"value"}:
        shape = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise ApiError(
            422, "invalid", f'the body is {{"value": "..."}} and nothing else, got {shape}'
        )
    return secrets.validate_value(body["value"])
