"""The snippet HTTP egress policy, installed inside each sandbox child before the snippet runs.

`install_in_child(policy)` hooks three levels, so that no single one has to hold:

- request level, where the URL is known: urllib3 (`requests`, the `hubspot` client) and
  httpcore (`httpx`) — override rewrite, host allowlist, no proxies, request count,
  timeout clamp;
- response level: the body cap on urllib3's and httpx's read paths;
- connect level, where the address is known: `socket.socket` — every TCP connect is
  checked on the IP it really goes to, UNIX and datagram sockets are refused.
"""

from __future__ import annotations

import email.utils
import math
import socket
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx
import requests
import urllib3

from connectors import _egress_httpcore, _egress_socket, _egress_urllib3
from connectors._egress_errors import EgressRefused
from connectors._egress_guard import Guard
from connectors._egress_policy import EgressPolicy

__all__ = ["EgressPolicy", "EgressRefused", "install_in_child", "prepare", "rate_limit_of"]

_hooked: list[Guard] = []  # the guard the hooks consult, once they are in place
_configured: list[EgressPolicy] = []


def prepare() -> None:
    """Put the hooks in place ahead of time (in the sandbox zygote), refusing all egress.

    Each forked child then only sets its own policy with `install_in_child`, instead of
    patching three libraries on every execution.
    """
    if _hooked:
        return
    found = str(getattr(urllib3, "__version__", "unknown"))
    if not found.startswith("2."):
        raise RuntimeError(f"egress hooks need urllib3 2.x, found {found}")
    import encodings.idna  # noqa: F401 - imported lazily by Unicode hosts; load it while we can

    guard = Guard(EgressPolicy(allowed_hosts=()), socket.getaddrinfo)
    _hooked.append(guard)
    _egress_socket.install(guard)
    _egress_urllib3.install(guard)
    _egress_httpcore.install(guard)


def install_in_child(policy: EgressPolicy) -> None:
    """Enforce `policy` on all HTTP this process makes from now on; once per process, for good."""
    if _configured:
        raise RuntimeError("egress hooks are already installed in this process")
    prepare()
    _configured.append(policy)
    _hooked[0].configure(policy)


def rate_limit_of(exc: BaseException) -> float | None:
    """Retry-After seconds (0.0 when unknown) if `exc` is a CRM/HTTP 429 error, else None."""
    try:
        return _rate_limit_of(exc)
    except Exception:
        return None  # an exception that cannot even be inspected is no rate limit


def _rate_limit_of(exc: BaseException) -> float | None:
    if _is_hubspot_api_exception(exc):
        status = getattr(exc, "status", None)
        return _retry_after(getattr(exc, "headers", None)) if status == 429 else None
    if isinstance(exc, requests.exceptions.HTTPError):
        response = exc.response
        if response is not None and response.status_code == 429:
            return _retry_after(response.headers)
        return None
    if isinstance(exc, httpx.HTTPStatusError):
        if exc.response.status_code == 429:
            return _retry_after(exc.response.headers)
        return None
    # urllib3's Retry(status_forcelist=[429]) gives up with "too many 429 error responses".
    retry_error = exc.args[0] if isinstance(exc, requests.exceptions.RetryError) else exc
    if isinstance(retry_error, urllib3.exceptions.MaxRetryError):
        reason = retry_error.reason
        too_many = urllib3.exceptions.ResponseError.SPECIFIC_ERROR.format(status_code=429)
        if isinstance(reason, urllib3.exceptions.ResponseError) and str(reason) == too_many:
            return 0.0
    return None


def _is_hubspot_api_exception(exc: BaseException) -> bool:
    # Each hubspot API package generates its own ApiException; they share no base class.
    return any(
        cls.__name__ == "ApiException" and cls.__module__.startswith("hubspot.")
        for cls in type(exc).__mro__
    )


def _retry_after(headers: object) -> float:
    value = _header(headers, "retry-after")
    if value is None:
        return 0.0
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return 0.0
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else 0.0


def _header(headers: object, name: str) -> object:
    if not isinstance(headers, Mapping):
        return None
    for key, value in headers.items():
        if isinstance(key, str | bytes) and (
            key.lower() == name if isinstance(key, str) else key.lower() == name.encode()
        ):
            return value.decode("latin-1") if isinstance(value, bytes) else value
    return None
