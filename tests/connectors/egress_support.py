"""Local servers and a forked-child runner for the egress tests.

Two servers run in the test process: `public` stands in for a public API and is reached
only through an override; `internal` stands in for everything private and must never
see a connection (conftest.py checks that after every egress test).
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import requests

from connectors.egress import EgressPolicy, install_in_child

CONTACT = {
    "id": "1",
    "properties": {"email": "ada@example.com"},
    "createdAt": "2024-01-01T00:00:00Z",
    "updatedAt": "2024-01-01T00:00:00Z",
    "archived": False,
}


# -- local servers ------------------------------------------------------------------------


@dataclass
class Server:
    port: int
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    connections: int = 0

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.record.seen.append((self.command, self.path, dict(self.headers)))
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/redirect":
            self._send(int(query.get("code", "302")), b"", {"Location": query["to"]})
        elif url.path == "/big":
            self._send(200, b"x" * int(query["n"]))
        elif url.path == "/big-chunked":
            self._send_chunked(int(query["n"]))
        elif url.path == "/slow":
            time.sleep(float(query["s"]))
            self._send(200, b"late")
        elif url.path.endswith("/429"):
            self._send(429, b'{"status": "error"}', {"Retry-After": "7"})
        elif url.path.startswith("/crm/v3/objects/contacts/"):
            self._send(200, json.dumps(CONTACT).encode())
        else:
            echo = {"path": self.path, "host": self.headers.get("Host")}
            self._send(200, json.dumps(echo).encode())

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_chunked(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, size, 1000):
            chunk = b"y" * min(1000, size - start)
            self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    record: Server

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.record.connections += 1
        return True


def serve() -> Iterator[Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.record = Server(port=httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.record
    httpd.shutdown()
    httpd.server_close()


def hubapi(public: Server, **changes: Any) -> EgressPolicy:
    """The usual test policy: api.hubapi.com (and api.example.com) go to the public fake."""
    overrides = {"api.hubapi.com": public.url(""), "api.example.com": public.url("")}
    return EgressPolicy(overrides=overrides, **changes)


# -- running code in a child with the policy installed --------------------------------------


@dataclass(frozen=True)
class Raised:
    """What a child raised: every class name in its MRO, and its message."""

    types: frozenset[str]
    message: str


def in_child(
    policy: EgressPolicy,
    fn: Callable[..., Any],
    *args: Any,
    before_install: Callable[[], None] | None = None,
    **kwargs: Any,
) -> Any:
    """Run fn(*args, **kwargs) in a forked child with `policy` installed; its result or Raised."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def main() -> None:
        try:
            if before_install is not None:
                before_install()
            install_in_child(policy)
            result = fn(*args, **kwargs)
        except BaseException as exc:
            names = frozenset(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__)
            result = Raised(names, str(exc))
        send.send(result)

    process = context.Process(target=main)
    process.start()
    try:
        assert receive.poll(60), "the child did not answer within 60 s"
        return receive.recv()
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()


def refused(result: Any, *fragments: str) -> bool:
    """Whether a child's result is a refusal whose message has all fragments."""
    return isinstance(result, Raised) and all(f in result.message for f in fragments)


def status_of(url: str, **kwargs: Any) -> int:
    return requests.get(url, timeout=5, **kwargs).status_code


def json_of(url: str, **kwargs: Any) -> Any:
    return requests.get(url, timeout=5, **kwargs).json()


def httpx_json_of(url: str, **kwargs: Any) -> Any:
    with httpx.Client(**kwargs) as client:
        return client.get(url).json()


def attempts(count: int, url: str) -> list[str]:
    """Call `url` `count` times, catching refusals the way a hostile snippet would."""
    results = []
    for _ in range(count):
        try:
            results.append(str(requests.get(url, timeout=5).status_code))
        except requests.exceptions.RequestException as exc:
            results.append(str(exc))
    return results


def fake_resolver(answers: dict[str, list[str]]) -> Callable[[], None]:
    """Before install: answer these names from a list (one address per lookup, last repeats)."""

    def patch() -> None:
        real = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
            if host in answers:
                ip = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
            return real(host, port, *args, **kwargs)

        socket.getaddrinfo = getaddrinfo

    return patch
