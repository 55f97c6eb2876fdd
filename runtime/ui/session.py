"""Console sessions: a signed, HttpOnly cookie that refers to an API token, and its CSRF token.

The cookie holds `token id . expiry . session id . signature`, never the token. The
signature is an HMAC under a key derived from the master key, over those fields and
the token's stored hash, so a revoked token ends its sessions at once. The CSRF token
is a second HMAC of the session id (signed double-submit): the page reads it from a
non-HttpOnly cookie and sends it in `X-CSRF-Token`; another site can neither read it
nor forge it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Request, Response
from sqlalchemy.orm import Session

from runtime.api.errors import ApiError
from runtime.auth import LAST_USED_RESOLUTION, Role, TokenInfo
from runtime.db import tokens
from runtime.db.models import ApiToken, utcnow
from runtime.secrets import Keyring

SESSION_COOKIE = "codehook_session"
CSRF_COOKIE = "codehook_csrf"
LOGIN_CSRF_COOKIE = "codehook_login_csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 8 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    caller: TokenInfo
    session_id: str
    expires_at: int


class _LoggedOut:
    """Session ids ended by logout, until they would have expired anyway (this process only)."""

    def __init__(self) -> None:
        self._until: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, session_id: str, expires_at: int) -> None:
        now = int(time.time())
        with self._lock:
            self._until = {sid: t for sid, t in self._until.items() if t > now}
            self._until[session_id] = expires_at

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._until


_logged_out = _LoggedOut()


def _keys(keyring: Keyring | None) -> list[bytes]:
    """Signing keys derived from the master key(s): the writer first, then any other loaded."""
    if keyring is None:
        raise ApiError(503, "unavailable", "no master key is loaded; console sessions need one")
    masters = [keyring.writer, keyring.current]
    return [
        hashlib.sha256(b"codehook console session\0" + key.encoded().encode()).digest()
        for key in dict.fromkeys(masters)
    ]


def _mac(key: bytes, *parts: str) -> str:
    digest = hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _keyring(request: Request) -> Keyring | None:
    keyring: Keyring | None = request.app.state.codehook.keyring
    return keyring


def csrf_token(request: Request, session_id: str) -> str:
    return _mac(_keys(_keyring(request))[0], "csrf", session_id)


def start(request: Request, response: Response, row: ApiToken) -> None:
    """Set the session and CSRF cookies for the token in `row`."""
    session_id = secrets.token_urlsafe(18)
    expires = int(time.time()) + SESSION_SECONDS
    fields = (str(row.id), str(expires), session_id)
    signature = _mac(_keys(_keyring(request))[0], "session", *fields, row.token_hash)
    secure = is_https(request)
    response.set_cookie(
        SESSION_COOKIE,
        ".".join((*fields, signature)),
        max_age=SESSION_SECONDS,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token(request, session_id),
        max_age=SESSION_SECONDS,
        path="/",
        secure=secure,
        httponly=False,  # the page's script reads it to send X-CSRF-Token
        samesite="strict",
    )


def end(request: Request, response: Response, current: ConsoleSession | None) -> None:
    """Forget the session here and in the browser."""
    if current is not None:
        _logged_out.add(current.session_id, current.expires_at)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(
            name, path="/", secure=is_https(request), httponly=True, samesite="strict"
        )


def read(request: Request, session: Session) -> ConsoleSession | None:
    """The session the cookie names, if it is signed, unexpired, and its token still active."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    token_id, expires, session_id, signature = parts
    if int(expires) < time.time() or session_id in _logged_out:
        return None
    row = session.get(ApiToken, int(token_id))
    if row is None or row.revoked_at is not None:
        return None
    fields = (token_id, expires, session_id, row.token_hash)
    if not any(
        hmac.compare_digest(signature, _mac(key, "session", *fields))
        for key in _keys(_keyring(request))
    ):
        return None
    now = utcnow()
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
        tokens.mark_used(session, token_id=row.id, now=now, stale_before=now - LAST_USED_RESOLUTION)
    caller = TokenInfo(id=row.id, name=row.name, role=Role(row.role))
    return ConsoleSession(caller=caller, session_id=session_id, expires_at=int(expires))


def cookie_caller(request: Request, session: Session) -> TokenInfo | None:
    """The caller of an API request authenticated by the console cookie; unsafe methods need CSRF."""
    current = read(request, session)
    if current is None:
        return None
    if request.method not in SAFE_METHODS:
        require_csrf(request, current, request.headers.get(CSRF_HEADER))
    return current.caller


def require_csrf(request: Request, current: ConsoleSession, given: str | None) -> None:
    expected = csrf_token(request, current.session_id)
    if not given or not hmac.compare_digest(given, expected):
        raise ApiError(
            403,
            "csrf_failed",
            "this request is authenticated by the console's cookie and needs its "
            f"{CSRF_HEADER.title()} header; reload the page",
        )


def is_https(request: Request) -> bool:
    public_url = request.app.state.codehook.settings.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")
