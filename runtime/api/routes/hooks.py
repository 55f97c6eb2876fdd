"""`POST /v1/hooks/{snippet}`: what a HubSpot workflow calls for each enrolled record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from runtime.api.deps import StateDep
from runtime.api.schemas import SNIPPET_NAME
from runtime.hooks.flow import handle_hook
from runtime.hooks.response import overloaded_response
from runtime.metrics import HOOK_REJECTED

router = APIRouter(prefix="/v1/hooks", tags=["hooks"])

# The body is read raw (signatures cover the exact bytes), so its shape is declared by hand.
_HUBSPOT_PAYLOAD = {
    "description": "HubSpot's custom-code action payload, or the record a 'Send a webhook' posts",
    "type": "object",
    "properties": {
        "callbackId": {"type": "string", "minLength": 1, "maxLength": 255},
        "origin": {"type": "object", "properties": {"portalId": {"type": "integer"}}},
        "context": {"type": "object"},
        "object": {
            "type": "object",
            "properties": {
                "objectId": {"type": "integer", "minimum": 0},
                "objectType": {"type": "string"},
                "properties": {"type": "object"},
            },
        },
        "inputFields": {"type": "object"},
        "properties": {"type": "object"},
    },
}


@router.post(
    "/{name}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _HUBSPOT_PAYLOAD}},
        }
    },
    responses={
        200: {"description": "outputFields with hs_execution_state SUCCESS or FAIL_CONTINUE"},
        401: {"description": "missing or bad signature / hook token"},
        413: {"description": "body over 1 MiB"},
        429: {"description": "the snippet hit a CRM rate limit; retry after Retry-After"},
        503: {"description": "overloaded; retry after Retry-After"},
    },
)
async def call_hook(
    name: Annotated[str, Path(pattern=SNIPPET_NAME)], request: Request, state: StateDep
) -> JSONResponse:
    """Run the snippet's published version for one record (body: HubSpot's action payload)."""
    if not state.admit():
        HOOK_REJECTED.inc()
        status, body, headers = overloaded_response(2)
        return JSONResponse(body, status_code=status, headers=headers)
    try:
        status, body, headers = await handle_hook(state, request, name)
    finally:
        state.release()
    return JSONResponse(body, status_code=status, headers=headers)
