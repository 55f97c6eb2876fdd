"""Refusals that apply to every request before routing (plain ASGI: no per-request task)."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.api.errors import ApiError, error_response

__all__ = ["RefuseNulInUrl"]


class RefuseNulInUrl:
    """400 for a NUL character in the path or query: no name, id or filter holds one, and
    PostgreSQL text cannot even be compared with one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" "))
            if "\x00" in scope.get("path", "") or b"\x00" in query:
                error = ApiError(
                    400, "bad_request", "the URL contains a NUL character (%00); remove it"
                )
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
