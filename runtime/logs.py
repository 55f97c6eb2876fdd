"""Structured JSON logs, one object per line, each with the request id it belongs to."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from runtime.metrics import HTTP_RESPONSES

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["requestId"] = rid
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"


async def request_context(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Give each request an id (or take the caller's X-Request-Id) and log its outcome."""
    rid = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
    token = request_id.set(rid)
    started = time.perf_counter()
    try:
        response = await call_next(request)
    finally:
        request_id.reset(token)
    route = request.scope.get("route")
    path = getattr(route, "path", "unmatched")
    HTTP_RESPONSES.labels(path, str(response.status_code)).inc()
    response.headers["X-Request-Id"] = rid
    logging.getLogger("codehook.http").info(
        "%s %s %s",
        request.method,
        request.url.path,
        response.status_code,
        extra={
            "requestId": rid,
            "status": response.status_code,
            "durationMs": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return response
