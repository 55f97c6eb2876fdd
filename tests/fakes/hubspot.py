"""A fake HubSpot API on real HTTP, so the real hubspot-api-client can talk to it.

It keeps CRM records in memory (tests seed them with `add_object`), records every request, and
answers with the JSON shapes HubSpot uses, so `SimplePublicObject`, batch and association
responses deserialize in the real client. Faults are scripted per route:

    with FakeHubSpot() as hubspot:
        contact_id = hubspot.add_object("contacts", {"email": "ada@example.com"})
        rate_limited = Scripted(429, headers={"Retry-After": "1"})
        hubspot.script("PATCH", "/crm/v3/objects/contacts/*", rate_limited, 500)
        ...  # the next PATCH gets a 429, the one after a 500, later ones the normal answer
"""

from __future__ import annotations

import collections
import fnmatch
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes._hubspot_api import (
    OBJECT_TYPES,
    ApiError,
    as_strings,
    error_body,
    normalize_type,
    route,
    timestamp,
)

__all__ = ["FakeHubSpot", "RecordedRequest", "Scripted"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received; header names are lower-case."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any


@dataclass(frozen=True)
class Scripted:
    """A scripted answer; `status=None` answers normally after `delay` seconds."""

    status: int | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeHubSpot:
    """The fake server; `url` is its base URL once started (also as a context manager)."""

    def __init__(self, *, access_token: str | None = None, delay: float = 0.0) -> None:
        self.access_token = access_token
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECT_TYPES}
        self.completed_callbacks: dict[str, dict[str, Any]] = {}
        self.associations: dict[tuple[str, str, str], list[str]] = collections.defaultdict(list)
        self._scripts: list[tuple[str, str, collections.deque[Scripted]]] = []
        self._next_id = 1001
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeHubSpot is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeHubSpot:
        server = _Server(self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-hubspot"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeHubSpot:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- seeding and inspection ------------------------------------------------------------

    def add_object(
        self, object_type: str, properties: Mapping[str, Any], *, object_id: str | int | None = None
    ) -> str:
        """Store a record and return its id (a fresh one unless given)."""
        kind = normalize_type(object_type)
        with self._lock:
            if object_id is None:
                object_id, self._next_id = self._next_id, self._next_id + 1
            key = str(object_id)
            now = timestamp()
            stored = {
                "hs_object_id": key,
                "createdate": now,
                "lastmodifieddate": now,
                **as_strings(properties),
            }
            record = {"id": key, "properties": stored, "createdAt": now, "updatedAt": now}
            self.objects[kind][key] = record | {"archived": False}
            return key

    def properties_of(self, object_type: str, object_id: str | int) -> dict[str, Any]:
        """The stored properties of one record."""
        with self._lock:
            return dict(self.objects[normalize_type(object_type)][str(object_id)]["properties"])

    def associate(self, from_type: str, from_id: str | int, to_type: str, to_id: str | int) -> None:
        """Associate two records (both directions, as HubSpot does)."""
        left, right = normalize_type(from_type), normalize_type(to_type)
        with self._lock:
            self.associations[(left, str(from_id), right)].append(str(to_id))
            self.associations[(right, str(to_id), left)].append(str(from_id))

    def script(self, method: str, path_pattern: str, *responses: Scripted | int) -> None:
        """Queue answers for the next calls whose method and path (a glob) match."""
        queue = collections.deque(r if isinstance(r, Scripted) else Scripted(r) for r in responses)
        with self._lock:
            self._scripts.append((method.upper(), path_pattern, queue))

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        """Recorded requests whose method and path (a glob) match."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == method.upper() and fnmatch.fnmatchcase(r.path, path_pattern)
            ]

    # -- serving -----------------------------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append(request)
            scripted = self._next_scripted(request)
        delay = self.delay + (scripted.delay if scripted else 0.0)
        if delay:
            time.sleep(delay)
        if scripted is not None and scripted.status is not None:
            body = scripted.body
            if body is None and scripted.status >= 400:
                body = error_body(scripted.status, f"scripted {scripted.status}")
            return scripted.status, body, dict(scripted.headers)
        try:
            self._authenticate(request)
            with self._lock:
                status, body = route(self, request)
        except ApiError as error:
            return error.status, error.body, {}
        return status, body, {}

    def _next_scripted(self, request: RecordedRequest) -> Scripted | None:
        for method, pattern, queue in self._scripts:
            if (
                queue
                and method in (request.method, "*")
                and fnmatch.fnmatchcase(request.path, pattern)
            ):
                return queue.popleft()
        return None

    def _authenticate(self, request: RecordedRequest) -> None:
        if self.access_token is None:
            return
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            raise ApiError(401, "Authentication credentials not found.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeHubSpot) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=raw,
            json=parsed,
        )
        fake = self.server.fake
        if raw and parsed is None:
            status, body = 400, error_body(400, "Invalid input JSON")
            headers: dict[str, str] = {}
        else:
            status, body, headers = fake._handle(request)
        data = b"" if body is None or status == 204 else json.dumps(body).encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read `FakeHubSpot.requests`, not stderr
