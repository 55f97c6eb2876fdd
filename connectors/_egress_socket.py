"""Connect-level hooks: every socket a snippet's process opens is checked on its real address.

This layer knows only addresses, so it is the backstop for whatever gets below the
request-level hooks (custom pools, raw connections, DNS answers that change between
the request check and the connect).
"""

from __future__ import annotations

import socket
from typing import Any

from connectors._egress_errors import SocketRefused
from connectors._egress_guard import Guard, parse_ip
from connectors._egress_policy import normalise_host

_INET = (socket.AF_INET, socket.AF_INET6)
_TYPE_FLAGS = getattr(socket, "SOCK_NONBLOCK", 0) | getattr(socket, "SOCK_CLOEXEC", 0)


def _is_tcp(sock: socket.socket) -> bool:
    return sock.family in _INET and (int(sock.type) & ~_TYPE_FLAGS) == socket.SOCK_STREAM


def _vet_connect(guard: Guard, sock: socket.socket, address: Any) -> Any:
    """Return the address to really connect to (a checked IP), or raise SocketRefused."""
    if sock.family == getattr(socket, "AF_UNIX", None):
        raise SocketRefused("egress refused: unix sockets are not reachable from snippets")
    if not _is_tcp(sock):
        raise SocketRefused("egress refused: only TCP connections are allowed")
    if not isinstance(address, tuple) or len(address) < 2:
        raise SocketRefused(f"egress refused: unsupported address {address!r}")
    host, port = address[0], address[1]
    if not isinstance(host, str | bytes) or type(port) is not int:
        raise SocketRefused(f"egress refused: unsupported address {address!r}")
    text = host.decode("ascii", "replace") if isinstance(host, bytes) else host
    ip = parse_ip(text)
    written = None
    if ip is None:
        # Connect to the address we checked, not to a name the C library resolves again.
        written = normalise_host(text)
        infos = guard.resolve(text, port, sock.family, socket.SOCK_STREAM)
        address = infos[0][4]
        ip = parse_ip(str(address[0]))
        if ip is None:
            raise SocketRefused(f"egress refused: {written} did not resolve to an IP address")
    reason = guard.check_connect(ip, port, written)
    if reason:
        raise SocketRefused(reason)
    if sock.gettimeout() is None:
        sock.settimeout(guard.timeout)  # a blocking socket would otherwise wait forever
    return address


def install(guard: Guard) -> None:
    """Replace the connecting and sending methods of `socket.socket` and `socket.getaddrinfo`."""
    cls = socket.socket
    real_init = cls.__init__
    real_connect = cls.connect
    real_connect_ex = cls.connect_ex
    real_sendmsg = cls.sendmsg

    def __init__(self: socket.socket, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        if not (_is_tcp(self) or self.family == getattr(socket, "AF_UNIX", None)):
            self.close()
            raise SocketRefused("egress refused: only TCP connections are allowed")

    def connect(self: socket.socket, address: Any) -> None:
        real_connect(self, _vet_connect(guard, self, address))

    def connect_ex(self: socket.socket, address: Any) -> int:
        return real_connect_ex(self, _vet_connect(guard, self, address))

    def sendto(self: socket.socket, *args: Any) -> int:
        raise SocketRefused("egress refused: datagrams are not allowed")

    def sendmsg(self: socket.socket, *args: Any) -> int:
        if len(args) >= 4:
            raise SocketRefused("egress refused: datagrams are not allowed")
        return real_sendmsg(self, *args)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return guard.resolve(host, port, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]
    cls.connect = connect  # type: ignore[method-assign, assignment]
    cls.connect_ex = connect_ex  # type: ignore[method-assign, assignment]
    cls.sendto = sendto  # type: ignore[assignment]
    cls.sendmsg = sendmsg  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = getaddrinfo
