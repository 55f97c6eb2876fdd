"""A real Codehook server under uvicorn, and the HubSpot-shaped calls tests make to it."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hubspot.utils.signature import Signature
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from runtime.app import create_app
from runtime.auth import Role, issue_token
from runtime.config import Settings
from runtime.db import create_engine_for_url, create_session_factory
from tests.conftest import POSTGRES_URL

CLIENT_SECRET = "0b3f2f1e-hubspot-app-client-secret"


@dataclass
class LiveServer:
    """A running server: its base URL, settings, and a Bearer token per role."""

    url: str
    settings: Settings
    tokens: dict[Role, str]
    token_ids: set[int]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, role: Role | None = Role.ADMIN, **kwargs: Any) -> httpx.Client:
        """An httpx client for the server, authenticated as `role` (None: no token)."""
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        headers.update(kwargs.pop("headers", {}))
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    def create_snippet(self, name: str, code: str, **settings: Any) -> dict[str, Any]:
        """Create a snippet as an editor and return its view (with hookToken)."""
        response = self.client(Role.EDITOR).post(
            "/v1/snippets", json={"name": name, "code": code, **settings}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def call_hook(
        self,
        name: str,
        payload: Any,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = False,
        path: str | None = None,
    ) -> httpx.Response:
        """POST a hook body; with `token` in X-Codehook-Token, or v3-signed as HubSpot does."""
        body = json.dumps(payload).encode()
        path = path or f"/v1/hooks/{name}"
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            all_headers["X-Codehook-Token"] = token
        if signed:
            public = self.settings.public_url or self.url
            all_headers.update(v3_headers(public.rstrip("/") + path, body))
        return self.client(None).post(path, content=body, headers=all_headers)


ServerFactory = Callable[..., LiveServer]


def execution(server: LiveServer, execution_id: str) -> dict[str, Any]:
    """One execution record, as a viewer sees it."""
    response = server.client(Role.VIEWER).get(f"/v1/executions/{execution_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def executions(server: LiveServer, snippet: str) -> list[dict[str, Any]]:
    """The first page of a snippet's executions, newest first."""
    response = server.client(Role.VIEWER).get("/v1/executions", params={"snippet": snippet})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def v3_headers(
    uri: str, body: bytes, *, timestamp_ms: int | None = None, secret: str = CLIENT_SECRET
) -> dict[str, str]:
    """HubSpot's v3 signature headers, made by hubspot-api-client's own helper."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    signature = Signature.get_signature(
        secret, body.decode(), "v3", http_uri=uri, http_method="POST", timestamp=timestamp
    )
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(data_dir: Path, database_url: str, **env: str) -> Iterator[LiveServer]:
    """Run the app under uvicorn in a thread until the block ends."""
    environ = {
        "CODEHOOK_DATA_DIR": str(data_dir),
        "CODEHOOK_DATABASE_URL": database_url,
        "CODEHOOK_HUBSPOT_CLIENT_SECRET": CLIENT_SECRET,
        "CODEHOOK_EXECUTOR_CONCURRENCY": "4",
        **env,
    }
    settings = Settings.from_env(environ)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    # The lifespan migrated the schema; tokens go straight into the database.
    engine = create_engine_for_url(settings.database_url)
    tokens, token_ids = {}, set()
    with create_session_factory(engine)() as session:
        for role in Role:
            info, tokens[role] = issue_token(session, role=role, name=f"test-{role.value}")
            token_ids.add(info.id)
    engine.dispose()
    live = LiveServer(
        url=f"http://127.0.0.1:{port}", settings=settings, tokens=tokens, token_ids=token_ids
    )
    try:
        yield live
    finally:
        for client in live.clients:
            client.close()
        server.should_exit = True
        # Waiting for the listener to close is enough: the lifespan's shutdown (stopping the
        # sandbox zygote) finishes in the daemon thread, and an idle zygote takes 5 s to stop.
        _wait_until_closed(port)


def _wait_until_closed(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return
        time.sleep(0.02)


def action_payload(
    callback_id: str | None = None,
    *,
    object_id: int = 614,
    object_type: str = "CONTACT",
    portal_id: int = 62515,
    **input_fields: Any,
) -> dict[str, Any]:
    """A custom-code action body as a HubSpot workflow posts it."""
    body: dict[str, Any] = {
        "origin": {"portalId": portal_id, "actionDefinitionId": 11, "actionDefinitionVersion": 1},
        "context": {"source": "WORKFLOWS", "workflowId": 1234},
        "object": {"objectId": object_id, "objectType": object_type},
        "inputFields": input_fields,
    }
    if callback_id is not None:
        body["callbackId"] = callback_id
    return body


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL for a fresh PostgreSQL schema, dropped afterwards (skips when unreachable)."""
    admin = create_engine(POSTGRES_URL, pool_size=1)
    schema = f"t_{secrets.token_hex(6)}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(exc).splitlines()[0]}")
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
