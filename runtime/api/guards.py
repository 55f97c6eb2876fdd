"""Refusals that apply to every request before routing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from runtime.api.errors import ApiError, error_response

__all__ = ["refuse_nul_in_url"]


async def refuse_nul_in_url(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """400 for a NUL character in the path or query: no name, id or filter holds one, and
    PostgreSQL text cannot even be compared with one."""
    query = request.query_params.multi_items()
    if "\x00" in request.url.path or any("\x00" in k or "\x00" in v for k, v in query):
        return error_response(
            ApiError(400, "bad_request", "the URL contains a NUL character (%00); remove it")
        )
    return await call_next(request)
