"""The egress policy value: what one snippet execution may call over HTTP."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

DEFAULT_MAX_REQUESTS = 50
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
DEFAULT_REQUEST_TIMEOUT_SECONDS = 10.0

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Target(NamedTuple):
    """Where an override sends a request: a trusted `scheme://host:port`."""

    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"


def normalise_host(host: str | bytes) -> str:
    """Lower-case a host as written, without IPv6 brackets, trailing dot or Unicode labels."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = host.strip().strip("[]").rstrip(".").lower()
    if not host.isascii():
        # Clients send IDNA (punycode) labels on the wire, so compare in that form.
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return host
    return host


def host_matches(host: str, pattern: str) -> bool:
    """Whether a normalised host matches an allowlist entry (`*.x` matches any subdomain of x)."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def parse_target(base_url: str) -> Target:
    """Parse an override base URL (`scheme://host[:port]`), refusing anything else."""
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"override target must be scheme://host[:port], got {base_url!r}") from exc
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(f"override target must be scheme://host[:port], got {base_url!r}")
    return Target(
        parts.scheme, normalise_host(parts.hostname), port or _DEFAULT_PORTS[parts.scheme]
    )


def _check_host_entry(entry: object, *, wildcard_ok: bool = True) -> str:
    what = "a hostname or *.domain" if wildcard_ok else "a hostname"
    if not isinstance(entry, str):
        raise ValueError(f"host must be {what}, got {entry!r}")
    wildcard = wildcard_ok and entry.strip().startswith("*.")
    host = normalise_host(entry.strip()[2:] if wildcard else entry)
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"host must be {what} without a port, got {entry!r}") from None
    if not host or any(char in host for char in "*/?#@ "):
        raise ValueError(f"host must be {what}, got {entry!r}")
    return f"*.{host}" if wildcard else host


@dataclass(frozen=True)
class EgressPolicy:
    """The HTTP egress limits for one snippet execution; plain data, safe to send to a child."""

    allowed_hosts: tuple[str, ...] | None = None
    overrides: dict[str, str] = field(default_factory=dict, hash=False)
    max_requests: int = DEFAULT_MAX_REQUESTS
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if self.allowed_hosts is not None:
            if isinstance(self.allowed_hosts, str) or not isinstance(
                self.allowed_hosts, tuple | list
            ):
                raise ValueError(
                    f"allowed_hosts must be a list of hosts, got {self.allowed_hosts!r}"
                )
            hosts = tuple(_check_host_entry(entry) for entry in self.allowed_hosts)
            object.__setattr__(self, "allowed_hosts", hosts)
        if not isinstance(self.overrides, dict):
            raise ValueError(f"overrides must map host to base URL, got {self.overrides!r}")
        overrides: dict[str, str] = {}
        for host, base_url in self.overrides.items():
            if not isinstance(host, str) or not isinstance(base_url, str):
                raise ValueError(
                    f"override must map a host to a base URL, got {host!r}: {base_url!r}"
                )
            parse_target(base_url)
            overrides[_check_host_entry(host, wildcard_ok=False)] = base_url
        object.__setattr__(self, "overrides", overrides)
        if type(self.max_requests) is not int or self.max_requests < 1:
            raise ValueError(f"max_requests must be a positive integer, got {self.max_requests!r}")
        if type(self.max_response_bytes) is not int or self.max_response_bytes < 1:
            raise ValueError(
                f"max_response_bytes must be a positive integer, got {self.max_response_bytes!r}"
            )
        timeout = self.request_timeout_seconds
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ValueError(f"request_timeout_seconds must be positive, got {timeout!r}")
        object.__setattr__(self, "request_timeout_seconds", float(timeout))

    def targets(self) -> dict[str, Target]:
        """Override targets by normalised host as written."""
        return {host: parse_target(base_url) for host, base_url in self.overrides.items()}

    def allows_host(self, host: str) -> bool:
        """Whether a normalised host as written passes the allowlist (always, without one)."""
        if self.allowed_hosts is None:
            return True
        return any(host_matches(host, pattern) for pattern in self.allowed_hosts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed_hosts": None if self.allowed_hosts is None else list(self.allowed_hosts),
            "overrides": dict(self.overrides),
            "max_requests": self.max_requests,
            "max_response_bytes": self.max_response_bytes,
            "request_timeout_seconds": self.request_timeout_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EgressPolicy:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown egress policy keys: {sorted(unknown)!r}")
        return cls(**data)
