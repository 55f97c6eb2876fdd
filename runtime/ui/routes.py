"""The console's own routes: login and logout forms, the page shell, and its static files.

Pages are static HTML and JavaScript that call `/v1` with the session cookie, so every
action goes through the API's role checks; nothing here reads snippets or secrets.
"""

from __future__ import annotations

import hmac
import html
import secrets
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from runtime.api.deps import SessionDep
from runtime.api.errors import ApiError
from runtime.auth import verify_bearer
from runtime.db import audit
from runtime.db.models import ApiToken
from runtime.ui import session as console

STATIC = Path(str(resources.files("runtime.ui") / "static"))
_MAX_FORM_BYTES = 4096
# Scripts only from this origin; CodeMirror injects its own <style> elements.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_LOGIN_ERRORS = {
    "token": "That token is not valid (unknown, revoked or mistyped).",
    "csrf": "The login form expired; try again.",
}

router = APIRouter(prefix="/ui", include_in_schema=False)


def _page(name: str, status: int = 200, **values: str) -> HTMLResponse:
    text = (STATIC / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value))
    return HTMLResponse(text, status_code=status, headers=_HEADERS)


def _login_page(request: Request, status: int = 200, error: str = "") -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    response = _page("login.html", status, csrf=nonce, error=_LOGIN_ERRORS.get(error, ""))
    response.set_cookie(
        console.LOGIN_CSRF_COOKIE,
        nonce,
        max_age=3600,
        path="/ui/login",
        secure=console.is_https(request),
        httponly=True,
        samesite="strict",
    )
    return response


async def _form(request: Request) -> dict[str, list[str]]:
    """The url-encoded form body; a body larger than any real form is refused unread."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > _MAX_FORM_BYTES:
        raise ApiError(413, "too_large", f"a console form is at most {_MAX_FORM_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise ApiError(413, "too_large", f"a console form is at most {_MAX_FORM_BYTES} bytes")
    return parse_qs(body.decode("utf-8", "replace"))


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login")
async def login(request: Request, session: SessionDep) -> Response:
    """Check the pasted API token and start a session; the token itself is not kept."""
    form = await _form(request)
    given_csrf = form.get("csrf", [""])[0]
    expected = request.cookies.get(console.LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(given_csrf, expected):
        return _login_page(request, 403, "csrf")
    token = form.get("token", [""])[0].strip()
    caller = verify_bearer(session, f"Bearer {token}") if token else None
    if caller is None:
        return _login_page(request, 401, "token")
    row = session.get(ApiToken, caller.id)
    assert row is not None
    response = RedirectResponse("/ui/", status_code=303)
    console.start(request, response, row)
    response.delete_cookie(console.LOGIN_CSRF_COOKIE, path="/ui/login")
    audit.record(session, actor=caller, action="console.login", target=caller.name)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """End the session (CSRF-checked, so another site cannot log the user out)."""
    current = console.read(request, session)
    if current is not None:
        form = await _form(request)
        given = request.headers.get(console.CSRF_HEADER) or form.get("csrf", [""])[0]
        console.require_csrf(request, current, given)
    response = RedirectResponse("/ui/login", status_code=303)
    console.end(request, response, current)
    return response


@router.get("")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/")
def shell(request: Request, session: SessionDep) -> Response:
    """The single page; its script routes on the URL fragment (#/snippets, #/executions, ...)."""
    if console.read(request, session) is None:
        return RedirectResponse("/ui/login", status_code=303)
    return _page("index.html")


class _Static(StaticFiles):
    """Static files with the console's security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response


static_files = _Static(directory=STATIC)
