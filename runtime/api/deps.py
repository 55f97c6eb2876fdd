"""What route functions get injected: the app's state, a database session, the caller."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from runtime.api.errors import ApiError
from runtime.api.strict_json import loads_strict
from runtime.auth import Role, TokenInfo, require, verify_bearer
from runtime.config import Settings
from runtime.secrets import Keyring
from runtime.ui.session import SESSION_COOKIE, cookie_caller
from sandbox import Executor, Limits

if TYPE_CHECKING:
    from runtime.queue import TaskQueue


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    executor: Executor
    # Hook calls admitted (running or waiting for a sandbox slot); beyond the cap, 503 at once.
    max_in_flight: int
    # The master keys for granted secrets (runtime/secrets); loaded after the sandbox zygote.
    keyring: Keyring | None = None
    # Where async runs and deliveries go (runtime/queue); None only in a bare state.
    queue: TaskQueue | None = None
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self) -> bool:
        with self._lock:
            if self._in_flight >= self.max_in_flight:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def limits_for(self, settings: dict[str, object]) -> Limits:
        """A version's limits, its own overrides capped by the server's settings."""
        s = self.settings
        cap = (
            s.max_async_timeout_seconds
            if settings.get("mode") == "async"
            else s.max_timeout_seconds
        )
        timeout = settings.get("timeoutSeconds") or s.default_timeout_seconds
        memory = settings.get("memoryMb") or s.default_memory_mb
        assert isinstance(timeout, int | float) and isinstance(memory, int)
        return Limits(
            timeout_seconds=min(float(timeout), cap),
            memory_mb=min(memory, s.max_memory_mb),
            log_bytes=s.log_bytes,
            output_bytes=s.output_bytes,
        )

    def hook_url(self, request: Request | None, name: str) -> str:
        base = self.settings.public_url or (str(request.base_url) if request else "")
        return f"{base.rstrip('/')}/v1/hooks/{name}"


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.codehook
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def caller(request: Request, session: SessionDep) -> TokenInfo | None:
    """The Bearer token's caller; without that header, the console's session cookie (+ CSRF)."""
    header = request.headers.get("authorization")
    if header is None and SESSION_COOKIE in request.cookies:
        return cookie_caller(request, session)
    return verify_bearer(session, header)


def role(required: Role) -> Callable[..., TokenInfo]:
    """A dependency that admits callers whose token has at least `required`."""

    def check(token: Annotated[TokenInfo | None, Depends(caller)]) -> TokenInfo:
        return require(token, required)

    return check


async def json_body(request: Request) -> None:
    """Refuse a body that is not declared as JSON (415) or is not strict JSON (400)."""
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    if request.method not in ("POST", "PUT", "PATCH") or not has_body:
        return
    content_type = request.headers.get("content-type", "application/json")
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(
            415, "unsupported_media_type", f"request bodies are JSON; got Content-Type {media!r}"
        )
    # The parsed body is cached on the request; FastAPI validates the same bytes after this.
    loads_strict(await request.body())


Viewer = Annotated[TokenInfo, Depends(role(Role.VIEWER))]
Editor = Annotated[TokenInfo, Depends(role(Role.EDITOR))]
Admin = Annotated[TokenInfo, Depends(role(Role.ADMIN))]
MaybeCaller = Annotated[TokenInfo | None, Depends(caller)]
