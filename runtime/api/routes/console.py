"""Small endpoints the web console needs (any client may use them): who am I, validate, grantable secrets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, StringConstraints

from runtime import secrets
from runtime.api.deps import Editor, SessionDep, StateDep, Viewer, json_body
from runtime.api.schemas import MAX_CODE_BYTES

router = APIRouter(prefix="/v1", tags=["console"], dependencies=[Depends(json_body)])
# The console validates as the user types: a short wait for a slot, then 503 (try again).
VALIDATE_WAIT_SECONDS = 5


class Validate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(max_length=MAX_CODE_BYTES)]


@router.get("/me")
def whoami(caller: Viewer) -> dict[str, Any]:
    """The calling token's name and role (never the token)."""
    return {"id": caller.id, "name": caller.name, "role": caller.role.value}


@router.post("/snippets/validate")
def validate_code(body: Validate, state: StateDep, caller: Editor) -> dict[str, Any]:
    """Compile without saving: every issue with its line and column (an empty list when it compiles)."""
    if not body.code.strip():
        return {"issues": []}
    issues = state.executor.check(body.code, wait_seconds=VALIDATE_WAIT_SECONDS)
    return {"issues": [issue.to_dict() for issue in issues]}


@router.get("/secret-names")
def secret_names(session: SessionDep, caller: Editor) -> dict[str, Any]:
    """Names of the existing secrets, so editors can grant them (values and details stay admin-only)."""
    return {"items": [info.name for info in secrets.listing(session)]}
