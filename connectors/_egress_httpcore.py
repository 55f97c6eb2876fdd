"""Request-level hooks for httpx, placed in httpcore's connection pools.

Every `httpx.HTTPTransport` (the default one, one a snippet builds itself, one with
`proxy=`) sends through `httpcore.ConnectionPool.handle_request`, once per request and
redirect hop, with the full URL in hand; the async pool mirrors it. The raw body is
capped on the pool's response stream and the decoded body in `httpx.Response`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx

from connectors._egress_errors import HttpxRequestRefused, HttpxResponseTooLarge
from connectors._egress_guard import Guard
from connectors._egress_policy import Target

_DEFAULT_PORTS = {b"http": 80, b"https": 443, b"ws": 80, b"wss": 443}


def _refuse(reason: str | None) -> None:
    if reason:
        raise HttpxRequestRefused(reason)


class _CappedStream:
    """A response byte stream that fails once more than `cap` bytes have come through."""

    def __init__(self, stream: Any, cap: int) -> None:
        self._stream = stream
        self._cap = cap
        self._seen = 0

    def _count(self, chunk: bytes) -> bytes:
        self._seen += len(chunk)
        if self._seen > self._cap:
            raise HttpxResponseTooLarge(
                f"egress refused: response body is larger than {self._cap} bytes"
            )
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            yield self._count(chunk)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield self._count(chunk)

    def close(self) -> None:
        self._stream.close()

    async def aclose(self) -> None:
        await self._stream.aclose()


class _Prepared:
    """One request after the policy: what to send, and under which override if any."""

    def __init__(self, guard: Guard, pool: object, request: httpcore.Request) -> None:
        if isinstance(pool, httpcore.HTTPProxy | httpcore.AsyncHTTPProxy) or type(
            pool
        ).__name__.endswith("SOCKSProxy"):
            raise HttpxRequestRefused("egress refused: proxies are not allowed")
        _refuse(guard.count_request())
        url = request.url
        _refuse(guard.check_host(url.host))
        extensions = dict(request.extensions)
        timeouts = extensions.get("timeout")
        timeouts = timeouts if isinstance(timeouts, dict) else {}
        extensions["timeout"] = {
            key: guard.clamp(timeouts.get(key)) for key in ("connect", "read", "write", "pool")
        }
        self.target: Target | None = guard.target_for(url.host)
        if self.target is None:
            port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
            _refuse(guard.check_destination(url.host, port))
            self.request = httpcore.Request(
                request.method,
                url,
                headers=request.headers,
                content=request.stream,
                extensions=extensions,
            )
            return
        extensions.pop("sni_hostname", None)
        # The target is trusted as configured, so the snippet may not pick its virtual host.
        netloc = self.target.netloc.encode("ascii")
        headers = [(k, netloc if k.lower() == b"host" else v) for k, v in request.headers]
        self.request = httpcore.Request(
            request.method,
            httpcore.URL(
                scheme=self.target.scheme.encode("ascii"),
                host=self.target.host.encode("ascii"),
                port=self.target.port,
                target=url.target,
            ),
            headers=headers,
            content=request.stream,
            extensions=extensions,
        )

    def via(self, guard: Guard) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if self.target is None else guard.via_override(self.target)


def install(guard: Guard) -> None:
    """Patch httpcore's sync and async pools and httpx's decoded-body iterators."""
    real_handle = httpcore.ConnectionPool.handle_request
    real_handle_async = httpcore.AsyncConnectionPool.handle_async_request
    real_iter_bytes = httpx.Response.iter_bytes
    real_aiter_bytes = httpx.Response.aiter_bytes

    def handle_request(self: httpcore.ConnectionPool, request: httpcore.Request) -> Any:
        prepared = _Prepared(guard, self, request)
        with prepared.via(guard):
            response = real_handle(self, prepared.request)
        response.stream = _CappedStream(response.stream, guard.policy.max_response_bytes)
        return response

    async def handle_async_request(
        self: httpcore.AsyncConnectionPool, request: httpcore.Request
    ) -> Any:
        prepared = _Prepared(guard, self, request)
        with prepared.via(guard):
            response = await real_handle_async(self, prepared.request)
        response.stream = _CappedStream(response.stream, guard.policy.max_response_bytes)
        return response

    def too_large(response: httpx.Response) -> HttpxResponseTooLarge:
        message = (
            f"egress refused: response body is larger than {guard.policy.max_response_bytes} bytes"
        )
        with contextlib.suppress(RuntimeError):
            return HttpxResponseTooLarge(message, request=response.request)
        return HttpxResponseTooLarge(message)

    def iter_bytes(self: httpx.Response, chunk_size: int | None = None) -> Iterator[bytes]:
        seen = 0
        for chunk in real_iter_bytes(self, chunk_size):
            seen += len(chunk)
            if seen > guard.policy.max_response_bytes:
                raise too_large(self)
            yield chunk

    async def aiter_bytes(
        self: httpx.Response, chunk_size: int | None = None
    ) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in real_aiter_bytes(self, chunk_size):
            seen += len(chunk)
            if seen > guard.policy.max_response_bytes:
                raise too_large(self)
            yield chunk

    httpcore.ConnectionPool.handle_request = handle_request  # type: ignore[method-assign]
    httpcore.AsyncConnectionPool.handle_async_request = handle_async_request  # type: ignore[method-assign]
    httpx.Response.iter_bytes = iter_bytes  # type: ignore[method-assign]
    httpx.Response.aiter_bytes = aiter_bytes  # type: ignore[method-assign]
