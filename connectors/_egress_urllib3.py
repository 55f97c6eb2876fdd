"""Request-level hooks in urllib3, which both `requests` and the `hubspot` client go through.

`PoolManager.connection_from_context` is where every URL becomes a connection pool
(requests' adapters, hubspot's `pool_manager.request`, urllib3's own redirects), so the
allowlist and the override rewrite happen there. `HTTPConnectionPool.urlopen` runs once
per request, redirect hop and retry, so counting, the timeout clamp and the checks for
pools built by hand happen there. The body cap sits on `HTTPResponse`'s read methods.

urllib3 also retries, by default, a 413/429/503 answer carrying Retry-After after
sleeping that long (the hubspot client sleeps up to three times). That sleep would eat
the snippet's wall time and hide the 429 that the workflow must see as a rate limit, so
only the statuses a snippet lists itself in `Retry(status_forcelist=...)` are retried.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Generator, Mapping
from contextvars import ContextVar
from typing import Any

from urllib3.connectionpool import HTTPConnectionPool, port_by_scheme
from urllib3.poolmanager import PoolManager, ProxyManager
from urllib3.response import HTTPResponse
from urllib3.util.retry import Retry
from urllib3.util.timeout import Timeout

from connectors._egress_errors import (
    RequestRefused,
    ResponseTooLarge,
    StreamedResponseTooLarge,
)
from connectors._egress_guard import Guard
from connectors._egress_policy import Target

# Bodies read "all at once" are read in steps of this size so the cap stops them early.
_STEP = 64 * 1024
_PROXIES_REFUSED = "egress refused: proxies are not allowed"


def _refuse(reason: str | None) -> None:
    if reason:
        raise RequestRefused(reason)


def _without_host_header(headers: Any) -> Any:
    if isinstance(headers, Mapping) and any(str(k).lower() == "host" for k in headers):
        return {k: v for k, v in headers.items() if str(k).lower() != "host"}
    return headers


def _clamped_timeout(guard: Guard, value: Any, pool_default: Any) -> Timeout:
    if not isinstance(value, Timeout | int | float) and value is not None:
        value = pool_default  # urllib3's "use the pool's timeout" sentinel
    if isinstance(value, Timeout):
        connect, total = value.connect_timeout, value.total
        read = getattr(value, "_read", None)  # no public getter that works before connecting
    else:
        connect = read = value
        total = None
    return Timeout(connect=guard.clamp(connect), read=guard.clamp(read), total=guard.clamp(total))


def install(guard: Guard) -> None:
    """Patch urllib3's pool manager, connection pool and response classes."""
    real_from_context = PoolManager.connection_from_context
    real_urlopen = HTTPConnectionPool.urlopen
    urlopen_signature = inspect.signature(real_urlopen)
    real_read = HTTPResponse.read
    real_read1 = HTTPResponse.read1
    real_read_chunked = HTTPResponse.read_chunked
    real_is_retry = Retry.is_retry

    override_pools: weakref.WeakKeyDictionary[HTTPConnectionPool, Target] = (
        weakref.WeakKeyDictionary()
    )
    body_sizes: weakref.WeakKeyDictionary[HTTPResponse, int] = weakref.WeakKeyDictionary()
    # A body preloaded inside urlopen must fail with an error urllib3 does not retry.
    inside_urlopen: ContextVar[bool] = ContextVar("codehook_egress_urlopen", default=False)

    def connection_from_context(
        self: PoolManager, request_context: dict[str, Any]
    ) -> HTTPConnectionPool:
        if (
            isinstance(self, ProxyManager)
            or request_context.get("_proxy") is not None
            or "_socks_options" in request_context
        ):
            raise RequestRefused(_PROXIES_REFUSED)
        host = request_context.get("host")
        if not host:
            return real_from_context(self, request_context)
        _refuse(guard.check_host(host))
        target = guard.target_for(host)
        if target is None:
            scheme = str(request_context.get("scheme") or "http").lower()
            port = request_context.get("port") or port_by_scheme.get(scheme, 80)
            _refuse(guard.check_destination(host, port))
            return real_from_context(self, request_context)
        rewritten = dict(request_context, scheme=target.scheme, host=target.host, port=target.port)
        pool = real_from_context(self, rewritten)
        override_pools[pool] = target
        return pool

    def urlopen(self: HTTPConnectionPool, *args: Any, **kwargs: Any) -> Any:
        bound = urlopen_signature.bind(self, *args, **kwargs)
        bound.apply_defaults()  # an omitted timeout becomes urllib3's "pool default" sentinel
        arguments = bound.arguments
        if self.proxy is not None or "_socks_options" in getattr(self, "conn_kw", {}):
            raise RequestRefused(_PROXIES_REFUSED)
        _refuse(guard.count_request())
        target = override_pools.get(self)
        via: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if target is None:
            port = self.port or port_by_scheme.get(self.scheme, 80)
            _refuse(guard.check_host(self.host))
            _refuse(guard.check_destination(self.host, port))
        else:
            # The target is trusted as configured, so the snippet may not pick its virtual host.
            arguments["headers"] = _without_host_header(arguments.get("headers"))
            via = guard.via_override(target)
        arguments["timeout"] = _clamped_timeout(guard, arguments["timeout"], self.timeout)
        token = inside_urlopen.set(True)
        try:
            with via:
                return real_urlopen(*bound.args, **bound.kwargs)
        finally:
            inside_urlopen.reset(token)

    def account(response: HTTPResponse, size: int) -> None:
        total = body_sizes.get(response, 0) + size
        body_sizes[response] = total
        if total > guard.policy.max_response_bytes:
            with contextlib.suppress(Exception):
                response.close()
            error = ResponseTooLarge if inside_urlopen.get() else StreamedResponseTooLarge
            raise error(
                f"egress refused: response body is larger than {guard.policy.max_response_bytes} bytes"
            )

    def read(
        self: HTTPResponse,
        amt: int | None = None,
        decode_content: bool | None = None,
        cache_content: bool = False,
    ) -> bytes:
        if amt is not None and amt >= 0:
            data = real_read(self, amt, decode_content, cache_content)
            account(self, len(data))
            return data
        cacheable = cache_content and not getattr(self, "_uncached_read_occurred", True)
        parts = []
        while chunk := real_read(self, _STEP, decode_content):
            account(self, len(chunk))
            parts.append(chunk)
        data = b"".join(parts)
        if cacheable:
            self._body = data  # what read(cache_content=True) keeps for `.data`
        return data

    def read1(
        self: HTTPResponse, amt: int | None = None, decode_content: bool | None = None
    ) -> bytes:
        data = real_read1(self, _STEP if amt is None or amt < 0 else amt, decode_content)
        account(self, len(data or b""))
        return data

    def read_chunked(
        self: HTTPResponse, amt: int | None = None, decode_content: bool | None = None
    ) -> Generator[bytes]:
        step = _STEP if amt is None or amt < 0 else amt
        for chunk in real_read_chunked(self, step, decode_content):
            account(self, len(chunk))
            yield chunk

    def is_retry(self: Retry, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        return real_is_retry(self, method, status_code, False)

    def drain_conn(self: HTTPResponse) -> None:
        # Draining reads an unbounded body just to reuse the connection; drop it instead.
        self.close()

    PoolManager.connection_from_context = connection_from_context  # type: ignore[method-assign]
    HTTPConnectionPool.urlopen = urlopen  # type: ignore[method-assign]
    HTTPResponse.read = read  # type: ignore[method-assign]
    HTTPResponse.read1 = read1  # type: ignore[method-assign]
    HTTPResponse.read_chunked = read_chunked  # type: ignore[method-assign]
    HTTPResponse.drain_conn = drain_conn  # type: ignore[method-assign]
    Retry.is_retry = is_retry  # type: ignore[method-assign]
