"""A fake availability service on real HTTP: the lead-routing snippet's external dependency."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Answer:
    """What the next requests get: a JSON `body` (or `raw` bytes), after `delay` seconds."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    delay: float = 0.0


@dataclass
class FakeAvailability:
    """Answers `GET /v1/reps/available` with `answer`; checks the Bearer key when `api_key` is set."""

    answer: Answer = field(default_factory=Answer)
    api_key: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> FakeAvailability:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                fake.requests.append(
                    {
                        "path": url.path,
                        "query": {k: v[0] for k, v in parse_qs(url.query).items()},
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                answer = fake.answer
                if answer.delay:
                    time.sleep(answer.delay)
                status = answer.status
                data = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
                wanted = f"Bearer {fake.api_key}"
                if fake.api_key is not None and self.headers.get("Authorization") != wanted:
                    status, data = 401, b'{"error": "invalid API key"}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the snippet gave up waiting: the timeout test

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply(self, reps: list[Any] | None = None, **answer: Any) -> None:
        """Answer with these reps (a `reps` list body) or with an `Answer(**answer)`."""
        if reps is not None:
            answer.setdefault("body", {"reps": reps})
        self.answer = Answer(**answer)
