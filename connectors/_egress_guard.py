"""The decisions behind every egress hook, and the per-process counters they share.

Checks return the refusal message (or None) so that each hook raises it as its own
client's error type.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from connectors._egress_policy import EgressPolicy, Target, normalise_host

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[Any]]

PUBLIC_ONLY = "(snippets may only call public hosts)"

_METADATA = frozenset(
    ipaddress.ip_address(ip) for ip in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# NAT64 prefixes embed an IPv4 address that a NAT64 gateway would reach on our behalf.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_kind(ip: IPAddress) -> str | None:
    """Why an address is not public ("a loopback address", ...), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return address_kind(ip.ipv4_mapped)
        embedded = _embedded_ipv4(ip)
        if embedded is not None and address_kind(embedded) is not None:
            return address_kind(embedded)
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip.is_reserved:
        return "a reserved address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT):
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def parse_ip(host: str) -> IPAddress | None:
    """The address a host string spells literally (IPv6 scope ids dropped), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


class Guard:
    """The egress policy of this process, with its request counter and resolution memory."""

    def __init__(self, policy: EgressPolicy, resolve: Resolver) -> None:
        self._resolve = resolve
        self._lock = threading.Lock()
        self.configure(policy)
        # Set while a request that an override rewrote is in flight: only then is the
        # target's private address reachable.
        self._active_target: ContextVar[Target | None] = ContextVar(
            "codehook_egress_target", default=None
        )

    def configure(self, policy: EgressPolicy) -> None:
        """Start enforcing `policy`, with fresh counters and resolution memory."""
        with self._lock:
            self.policy = policy
            self.timeout = policy.request_timeout_seconds
            self._targets = policy.targets()
            self._requests = 0
            self._allowed_ips: set[IPAddress] = set()
            self._target_ips: dict[Target, frozenset[IPAddress]] = {}

    # -- request level -------------------------------------------------------------

    def count_request(self) -> str | None:
        """Count one HTTP request (every redirect hop and retry); refuse past the cap."""
        with self._lock:
            self._requests += 1
            over = self._requests > self.policy.max_requests
        if over:
            return (
                f"egress refused: more than {self.policy.max_requests} HTTP requests "
                "in one execution"
            )
        return None

    def target_for(self, host: str | bytes) -> Target | None:
        """The override target for a host as written, if there is one."""
        return self._targets.get(normalise_host(host))

    def check_host(self, host: str | bytes) -> str | None:
        """Refuse a host as written that is not in the snippet's allowlist."""
        name = normalise_host(host)
        if self.policy.allows_host(name):
            return None
        allowed = list(self.policy.allowed_hosts or ())
        return f"egress refused: host {name!r} is not in this snippet's allowedHosts {allowed}"

    def check_destination(self, host: str | bytes, port: int) -> str | None:
        """Refuse a host that is, or resolves to, a non-public address (before connecting)."""
        name = normalise_host(host)
        ip = parse_ip(name)
        if ip is not None:
            kind = address_kind(ip)
            return f"egress refused: {ip} is {kind} {PUBLIC_ONLY}" if kind else None
        try:
            infos = self.resolve(name, port)
        except OSError:
            return None  # the client's own lookup fails the same way, with its own error
        for info in infos:
            resolved = parse_ip(str(info[4][0]))
            kind = address_kind(resolved) if resolved is not None else "not an IP address"
            if kind:
                return f"egress refused: {name} resolves to {resolved}, {kind} {PUBLIC_ONLY}"
        return None

    @contextlib.contextmanager
    def via_override(self, target: Target) -> Iterator[None]:
        token = self._active_target.set(target)
        try:
            yield
        finally:
            self._active_target.reset(token)

    def clamp(self, seconds: object) -> float:
        """A per-operation timeout no longer than the policy's (None means the policy's)."""
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
            return min(float(seconds), self.timeout)
        return self.timeout

    # -- connect level ---------------------------------------------------------------

    def resolve(self, host: Any, port: object, *args: Any, **kwargs: Any) -> list[Any]:
        """Resolve with the real resolver, remembering the addresses of allowlisted hosts."""
        infos = self._resolve(host, port, *args, **kwargs)
        if isinstance(host, str | bytes) and self.policy.allows_host(normalise_host(host)):
            with self._lock:
                for info in infos:
                    ip = parse_ip(str(info[4][0]))
                    if ip is not None:
                        self._allowed_ips.add(ip)
        return infos

    def check_connect(self, ip: IPAddress, port: int, written: str | None) -> str | None:
        """Refuse a TCP connect to an address the policy does not allow."""
        target = self._active_target.get()
        if target is not None and port == target.port and ip in self._ips_of(target):
            return None
        kind = address_kind(ip)
        if kind:
            shown = f"{written} resolves to {ip}, {kind}" if written else f"{ip} is {kind}"
            return f"egress refused: {shown} {PUBLIC_ONLY}"
        if self.policy.allowed_hosts is not None:
            if written is not None:
                return self.check_host(written)
            with self._lock:
                known = ip in self._allowed_ips
            if not known and not self.policy.allows_host(str(ip)):
                return (
                    f"egress refused: {ip} was not resolved from a host in this snippet's "
                    f"allowedHosts {list(self.policy.allowed_hosts)}"
                )
        return None

    def _ips_of(self, target: Target) -> frozenset[IPAddress]:
        ips = self._target_ips.get(target)
        if ips is None:
            literal = parse_ip(target.host)
            if literal is not None:
                ips = frozenset({literal})
            else:
                infos = self._resolve(target.host, target.port, 0, socket.SOCK_STREAM)
                ips = frozenset(ip for info in infos if (ip := parse_ip(str(info[4][0]))))
            self._target_ips[target] = ips
        return ips
