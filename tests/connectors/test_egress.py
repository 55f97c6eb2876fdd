"""The snippet egress policy, installed in real forked children against local servers.

Two servers run in the test process: `public` stands in for a public API and is reached
only through an override; `internal` stands in for everything private and must never
see a connection (an autouse fixture checks that after every test).
"""

from __future__ import annotations

import asyncio
import http.client
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
import hubspot
import pytest
import requests
import respx
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.deals import ApiException as DealsApiException
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from connectors import egress
from connectors.egress import EgressPolicy, install_in_child, rate_limit_of

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


def _serve() -> Iterator[Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.record = Server(port=httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.record
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def public() -> Iterator[Server]:
    yield from _serve()


@pytest.fixture(scope="module")
def internal() -> Iterator[Server]:
    yield from _serve()


@pytest.fixture(autouse=True)
def _internal_never_reached(public: Server, internal: Server) -> Iterator[None]:
    public.seen.clear()
    internal.seen.clear()
    internal.connections = 0
    yield
    assert internal.connections == 0, internal.seen


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


# -- overrides --------------------------------------------------------------------------------


def test_override_sends_requests_to_target_keeping_path_and_query(public: Server) -> None:
    """requests to an overridden host reach the target with path and query intact."""
    url = "https://api.hubapi.com/crm/v3/objects/contacts/1?x=1"

    echoed = in_child(hubapi(public), json_of, url, headers={"Host": "evil"})

    assert echoed["id"] == "1"
    assert [(m, p) for m, p, _ in public.seen] == [("GET", "/crm/v3/objects/contacts/1?x=1")]
    assert public.seen[0][2]["Host"] == f"127.0.0.1:{public.port}"


def test_override_serves_the_real_hubspot_client(public: Server) -> None:
    """hubspot.HubSpot(...).crm.contacts.basic_api.get_by_id reaches the target."""

    def read_contact() -> str:
        contact = hubspot.HubSpot(access_token="t").crm.contacts.basic_api.get_by_id("1")
        return str(contact.properties["email"])

    assert in_child(hubapi(public), read_contact) == "ada@example.com"
    assert public.seen[0][1].startswith("/crm/v3/objects/contacts/1")
    assert public.seen[0][2]["Authorization"] == "Bearer t"


def test_override_applies_to_httpx_and_pins_host_header(public: Server) -> None:
    """httpx to an overridden host reaches the target; a Host header set by the snippet is replaced."""
    echoed = in_child(
        hubapi(public), httpx_json_of, "https://api.hubapi.com/a/b?c=d", headers={"Host": "evil"}
    )

    assert echoed == {"path": "/a/b?c=d", "host": f"127.0.0.1:{public.port}"}


def test_override_applies_to_async_httpx(public: Server, internal: Server) -> None:
    """httpx.AsyncClient goes through the same rewrite and the same refusals."""

    def fetch() -> list[Any]:
        async def main() -> list[Any]:
            async with httpx.AsyncClient() as client:
                ok = (await client.get("https://api.hubapi.com/async")).json()["path"]
                try:
                    await client.get(internal.url())
                except httpx.ConnectError as exc:
                    return [ok, str(exc)]
            return [ok, "reached"]

        return asyncio.run(main())

    ok, refusal = in_child(hubapi(public), fetch)

    assert ok == "/async"
    assert "127.0.0.1 is a loopback address" in refusal


def test_override_target_is_not_reachable_by_its_own_address(public: Server) -> None:
    """The target's private address is exempt only for requests the override rewrote."""

    def override_then_direct() -> list[str]:
        return attempts(1, "https://api.hubapi.com/first") + attempts(1, public.url("/direct"))

    via_override, direct = in_child(hubapi(public), override_then_direct)

    assert via_override == "200"
    assert "127.0.0.1 is a loopback address" in direct
    assert [path for _, path, _ in public.seen] == ["/first"]


def test_urllib3_redirects_within_the_override_are_followed(public: Server) -> None:
    """The hubspot pool manager follows a relative redirect back through the override."""

    def follow() -> Any:
        rest = hubspot.HubSpot(access_token="t").crm.contacts.basic_api.api_client.rest_client
        response = rest.pool_manager.request("GET", "https://api.hubapi.com/redirect?to=/landed")
        return json.loads(response.data)["path"]

    assert in_child(hubapi(public), follow) == "/landed"
    assert [path for _, path, _ in public.seen] == ["/redirect?to=/landed", "/landed"]


# -- private addresses ------------------------------------------------------------------------


def test_loopback_ip_is_refused_in_requests_and_httpx(public: Server, internal: Server) -> None:
    """A literal loopback IP is refused as the client's own connection error."""
    from_requests = in_child(hubapi(public), status_of, internal.url())
    from_httpx = in_child(hubapi(public), httpx_json_of, internal.url())

    assert refused(from_requests, "egress refused: 127.0.0.1 is a loopback address")
    assert "requests.exceptions.ConnectionError" in from_requests.types
    assert refused(from_httpx, "egress refused: 127.0.0.1 is a loopback address")
    assert "httpx.ConnectError" in from_httpx.types


def test_localhost_name_is_refused(public: Server, internal: Server) -> None:
    """A name that resolves to loopback is refused before connecting."""
    result = in_child(hubapi(public), status_of, f"http://localhost:{internal.port}/")

    assert refused(result, "localhost resolves to", "a loopback address")


def test_private_and_metadata_addresses_are_refused(public: Server) -> None:
    """RFC 1918, CGNAT, link-local, metadata and IPv4-mapped forms are all refused."""
    urls = [
        "http://10.0.0.5/",
        "http://100.64.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://[::1]/",
    ]
    results = in_child(hubapi(public), attempts, 1, urls[0])
    assert "10.0.0.5 is a private address" in results[0]

    def each() -> list[str]:
        return [attempts(1, url)[0] for url in urls[1:]]

    messages = in_child(hubapi(public), each)

    assert "100.64.1.1 is a private address" in messages[0]
    assert "169.254.169.254 is a cloud metadata address" in messages[1]
    assert "100.100.100.200 is a cloud metadata address" in messages[2]
    assert "::ffff:7f00:1 is a loopback address" in messages[3]
    assert "fd00:ec2::254 is a cloud metadata address" in messages[4]
    assert "0.0.0.0 is a reserved address" in messages[5]
    assert "resolves to 127.0.0.1, a loopback address" in messages[6]
    assert "::1 is a loopback address" in messages[7]


def test_name_resolving_to_private_address_is_refused(public: Server, internal: Server) -> None:
    """A public-looking name whose DNS answer is private is refused."""
    url = f"http://internal.example.test:{internal.port}/"
    resolver = fake_resolver({"internal.example.test": ["127.0.0.1"]})

    result = in_child(hubapi(public), status_of, url, before_install=resolver)

    assert refused(result, "internal.example.test resolves to 127.0.0.1")


def test_connect_checks_the_address_dns_gives_at_connect_time(
    public: Server, internal: Server
) -> None:
    """A DNS answer that turns private after the request check is refused at connect."""
    url = f"http://rebind.example.test:{internal.port}/"
    resolver = fake_resolver({"rebind.example.test": ["93.184.215.14", "127.0.0.1"]})

    result = in_child(hubapi(public), status_of, url, before_install=resolver)

    assert refused(result, "rebind.example.test resolves to 127.0.0.1, a loopback address")


def test_redirect_to_internal_address_is_refused(public: Server, internal: Server) -> None:
    """A 302 or 307 from an allowed host to a private address is refused at the hop."""
    for code in (301, 302, 307):
        url = f"https://api.hubapi.com/redirect?code={code}&to={internal.url('/secret')}"

        with_requests = in_child(hubapi(public), status_of, url)
        with_httpx = in_child(hubapi(public), httpx_json_of, url, follow_redirects=True)

        assert refused(with_requests, "127.0.0.1 is a loopback address"), code
        assert refused(with_httpx, "127.0.0.1 is a loopback address"), code


def test_redirect_to_metadata_address_is_refused(public: Server) -> None:
    """A redirect to 169.254.169.254 is refused, in requests and in the hubspot pool manager."""
    url = "https://api.hubapi.com/redirect?to=http://169.254.169.254/latest/meta-data/"

    def through_hubspot_pool() -> int:
        client = hubspot.HubSpot(access_token="t")
        manager = client.crm.contacts.basic_api.api_client.rest_client.pool_manager
        return int(manager.request("GET", url).status)

    assert refused(in_child(hubapi(public), status_of, url), "a cloud metadata address")
    assert refused(in_child(hubapi(public), through_hubspot_pool), "a cloud metadata address")


# -- going below the usual level ---------------------------------------------------------------


def test_session_send_of_prepared_request_is_refused(public: Server, internal: Server) -> None:
    """Session.send with a prepared request goes through the same checks."""

    def send() -> int:
        prepared = requests.Request("GET", internal.url()).prepare()
        return requests.Session().send(prepared, timeout=5).status_code

    assert refused(in_child(hubapi(public), send), "127.0.0.1 is a loopback address")


def test_custom_http_adapter_is_refused(public: Server, internal: Server) -> None:
    """A snippet's own HTTPAdapter, with its own pool manager, is still checked."""

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, connections: int, maxsize: int, **kwargs: Any) -> None:
            super().init_poolmanager(connections, 1, **kwargs)

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            conn = self.poolmanager.connection_from_url(request.url)
            return conn.urlopen(request.method, request.url, redirect=False)

    def send() -> int:
        session = requests.Session()
        session.mount("http://", Adapter())
        return session.get(internal.url()).status_code

    assert refused(in_child(hubapi(public), send), "127.0.0.1 is a loopback address")


def test_requests_proxies_are_refused(public: Server, internal: Server) -> None:
    """proxies= is refused, whether the proxy is private or the target is allowed."""
    proxies = {"http": internal.url(""), "https": internal.url("")}

    to_override = in_child(hubapi(public), status_of, "http://api.hubapi.com/", proxies=proxies)
    to_public = in_child(hubapi(public), status_of, "https://example.org/", proxies=proxies)

    assert refused(to_override, "egress refused: proxies are not allowed")
    assert refused(to_public, "egress refused: proxies are not allowed")


def test_httpx_proxy_is_refused(public: Server, internal: Server) -> None:
    """httpx proxy= is refused."""
    result = in_child(
        hubapi(public), httpx_json_of, "http://api.hubapi.com/", proxy=internal.url("")
    )

    assert refused(result, "egress refused: proxies are not allowed")


def test_httpx_custom_transport_is_refused(public: Server, internal: Server) -> None:
    """A snippet-built httpx.HTTPTransport is checked like the default one."""
    result = in_child(
        hubapi(public), httpx_json_of, internal.url(), transport=httpx.HTTPTransport(retries=2)
    )

    assert refused(result, "127.0.0.1 is a loopback address")


def test_httpx_unix_socket_transport_is_refused(public: Server, tmp_path: Any) -> None:
    """An httpx transport over a UNIX socket is refused at connect."""
    path = str(tmp_path / "docker.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    try:
        result = in_child(
            hubapi(public),
            httpx_json_of,
            "http://api.hubapi.com/",
            transport=httpx.HTTPTransport(uds=path),
        )
    finally:
        listener.close()

    assert refused(result, "unix sockets are not reachable")


def test_hubspot_host_pointing_inside_is_refused(public: Server, internal: Server) -> None:
    """hubspot.HubSpot(host=...) cannot point the client at a private address."""

    def read_contact() -> Any:
        client = hubspot.HubSpot(access_token="t", host=internal.url(""))
        return client.crm.contacts.basic_api.get_by_id("1").id

    assert refused(in_child(hubapi(public), read_contact), "127.0.0.1 is a loopback address")


def test_hubspot_pool_manager_used_directly_is_refused(public: Server, internal: Server) -> None:
    """The client's urllib3 pool manager, used by hand, is checked too."""

    def raw() -> int:
        client = hubspot.HubSpot(access_token="t")
        manager = client.crm.contacts.basic_api.api_client.rest_client.pool_manager
        return int(manager.request("GET", internal.url()).status)

    assert refused(in_child(hubapi(public), raw), "127.0.0.1 is a loopback address")


def test_raw_sockets_and_http_client_are_refused(public: Server, internal: Server) -> None:
    """Connects below every HTTP client are checked on the address, and datagrams refused."""

    def raw() -> list[str]:
        messages = []
        attempts: list[Callable[[], object]] = [
            lambda: socket.create_connection(("127.0.0.1", internal.port), timeout=5),
            lambda: socket.socket().connect_ex(("localhost", internal.port)),
            lambda: http.client.HTTPConnection("127.0.0.1", internal.port).request("GET", "/"),
            lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
            lambda: socket.socket(socket.AF_UNIX).connect("/run/docker.sock"),
        ]
        for attempt in attempts:
            try:
                attempt()
                messages.append("reached")
            except PermissionError as exc:
                messages.append(str(exc))
        return messages

    messages = in_child(hubapi(public), raw)

    assert "127.0.0.1 is a loopback address" in messages[0]
    assert "localhost resolves to 127.0.0.1" in messages[1]
    assert "127.0.0.1 is a loopback address" in messages[2]
    assert "only TCP connections are allowed" in messages[3]
    assert "unix sockets are not reachable" in messages[4]


# -- allowlist -----------------------------------------------------------------------------------


def test_allowlist_refuses_unlisted_host(public: Server) -> None:
    """A host not in allowedHosts is refused with the list in the message."""
    policy = hubapi(public, allowed_hosts=("api.hubapi.com",))

    result = in_child(policy, status_of, "https://evil.com/x")

    assert refused(result, "egress refused: host 'evil.com' is not in this snippet's allowedHosts")
    assert "['api.hubapi.com']" in result.message


def test_allowlist_is_checked_on_the_host_as_written(public: Server) -> None:
    """An overridden host must itself be allowed; the override target never needs to be."""
    allowed = in_child(
        hubapi(public, allowed_hosts=("api.hubapi.com",)), status_of, "https://api.hubapi.com/"
    )
    not_allowed = in_child(
        hubapi(public, allowed_hosts=("other.com",)), status_of, "https://api.hubapi.com/"
    )

    assert allowed == 200
    assert refused(not_allowed, "host 'api.hubapi.com' is not in this snippet's allowedHosts")


def test_allowlist_wildcard_accepts_subdomains_only(public: Server) -> None:
    """*.example.com admits api.example.com, not example.com or evil-example.com."""
    policy = hubapi(public, allowed_hosts=("*.example.com",))

    def each() -> list[str]:
        urls = ["https://api.example.com/", "https://example.com/", "https://evil-example.com/"]
        return [attempts(1, url)[0] for url in urls]

    sub, apex, lookalike = in_child(policy, each)

    assert sub == "200"
    assert "host 'example.com' is not in" in apex
    assert "host 'evil-example.com' is not in" in lookalike


def test_allowlist_holds_for_httpx_and_hubspot(public: Server) -> None:
    """httpx and hubspot(host=...) are held to the same allowlist."""
    policy = hubapi(public, allowed_hosts=("api.hubapi.com",))

    def hubspot_elsewhere() -> Any:
        client = hubspot.HubSpot(access_token="t", host="https://evil.com")
        return client.crm.contacts.basic_api.get_by_id("1").id

    assert refused(in_child(policy, httpx_json_of, "https://evil.com/"), "host 'evil.com'")
    assert refused(in_child(policy, hubspot_elsewhere), "host 'evil.com'")


def test_allowlist_holds_at_connect_for_addresses_not_resolved_from_it(public: Server) -> None:
    """Below the HTTP clients, a public address is reachable only if an allowed name gave it."""
    policy = hubapi(public, allowed_hosts=("api.hubapi.com",))
    resolver = fake_resolver({"evil.com": ["93.184.215.14"]})

    def raw() -> list[str]:
        messages = []
        for address in [("93.184.215.14", 80), ("evil.com", 80)]:
            try:
                socket.create_connection(address, timeout=1)
                messages.append("reached")
            except PermissionError as exc:
                messages.append(str(exc))
        return messages

    by_ip, by_name = in_child(policy, raw, before_install=resolver)

    assert "93.184.215.14 was not resolved from a host in this snippet's allowedHosts" in by_ip
    assert "93.184.215.14 was not resolved from a host" in by_name


# -- request count, body size, timeout -------------------------------------------------------------


def test_request_cap_keeps_refusing_after_the_error_is_caught(public: Server) -> None:
    """Past max_requests every further request is refused, however often the snippet retries."""
    results = in_child(hubapi(public, max_requests=3), attempts, 6, "https://api.hubapi.com/n")

    assert results[:3] == ["200", "200", "200"]
    for message in results[3:]:
        assert "egress refused: more than 3 HTTP requests in one execution" in message
    assert len(public.seen) == 3


def test_redirect_hops_count_as_requests(public: Server) -> None:
    """Each redirect hop counts against max_requests, in requests and in httpx."""
    url = "https://api.hubapi.com/redirect?to=/landed"

    def both() -> list[str]:
        first = attempts(1, url)[0]  # two requests: the redirect and the landing
        try:
            httpx.get(url, follow_redirects=True)
            second = "reached"
        except httpx.ConnectError as exc:
            second = str(exc)
        return [first, second]

    first, second = in_child(hubapi(public, max_requests=3), both)

    assert first == "200"
    assert "more than 3 HTTP requests" in second
    assert [path for _, path, _ in public.seen] == [
        "/redirect?to=/landed",
        "/landed",
        "/redirect?to=/landed",
    ]


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_response_cap_stops_large_bodies(public: Server, path: str) -> None:
    """A body over max_response_bytes fails in requests, httpx and the hubspot pool manager."""
    url = f"https://api.hubapi.com{path}?n=50000"

    def all_clients() -> list[str]:
        messages = []
        try:
            requests.get(url, timeout=5)
        except requests.exceptions.RequestException as exc:
            messages.append(str(exc))
        try:
            httpx.get(url)
        except httpx.HTTPError as exc:
            messages.append(str(exc))
        manager = hubspot.HubSpot(access_token="t").crm.contacts.basic_api.api_client
        try:
            manager.rest_client.pool_manager.request("GET", url)
        except egress.EgressRefused as exc:
            messages.append(str(exc))
        return messages

    messages = in_child(hubapi(public, max_response_bytes=10_000), all_clients)

    assert len(messages) == 3
    for message in messages:
        assert "egress refused: response body is larger than 10000 bytes" in message
    assert len(public.seen) == 3  # the preloading hubspot read is not retried


def test_response_at_the_cap_is_read_whole(public: Server) -> None:
    """A body of exactly max_response_bytes is returned complete."""

    def lengths() -> list[int]:
        url = "https://api.hubapi.com/big-chunked?n=10000"
        rest = hubspot.HubSpot(access_token="t").crm.contacts.basic_api.api_client.rest_client
        return [
            len(requests.get(url, timeout=5).content),
            len(httpx.get(url).content),
            len(rest.pool_manager.request("GET", url).data),
        ]

    assert in_child(hubapi(public, max_response_bytes=10_000), lengths) == [10_000] * 3


def test_timeout_is_clamped_even_when_the_snippet_asks_for_none(public: Server) -> None:
    """A slow endpoint called with timeout=None gives up after request_timeout_seconds."""
    url = "https://api.hubapi.com/slow?s=5"

    def slow() -> list[Any]:
        outcomes: list[Any] = []
        started = time.monotonic()
        try:
            # The point of the test: no timeout from the snippet, the policy's still holds.
            requests.get(url, timeout=None)  # noqa: S113
        except requests.exceptions.RequestException as exc:
            outcomes += [type(exc).__name__, time.monotonic() - started]
        started = time.monotonic()
        try:
            httpx.get(url, timeout=None)  # noqa: S113
        except httpx.HTTPError as exc:
            outcomes += [type(exc).__name__, time.monotonic() - started]
        return outcomes

    from_requests, requests_took, from_httpx, httpx_took = in_child(
        hubapi(public, request_timeout_seconds=0.5), slow
    )

    assert (from_requests, from_httpx) == ("ReadTimeout", "ReadTimeout")
    assert requests_took < 3
    assert httpx_took < 3


def test_install_twice_in_one_process_is_refused(public: Server) -> None:
    """The hooks install once per process; a second call raises."""
    result = in_child(hubapi(public), install_in_child, hubapi(public))

    assert refused(result, "already installed")


# -- rate limits (no hooks needed) ------------------------------------------------------------------


def test_rate_limit_of_hubspot_api_exception(public: Server) -> None:
    """A hubspot 429 surfaces at once (no Retry-After sleep) and gives its Retry-After."""

    def read_contact() -> list[Any]:
        started = time.monotonic()
        try:
            hubspot.HubSpot(access_token="t").crm.contacts.basic_api.get_by_id("429")
        except ContactsApiException as exc:
            return [rate_limit_of(exc), time.monotonic() - started]
        return ["no error", 0]

    retry_after, elapsed = in_child(hubapi(public), read_contact)

    assert retry_after == 7.0
    assert elapsed < 3
    assert len(public.seen) == 1
    assert rate_limit_of(DealsApiException(status=404)) is None
    assert rate_limit_of(DealsApiException(status=429)) == 0.0


def test_rate_limit_of_requests_http_error(public: Server) -> None:
    """raise_for_status on a real 429 gives its Retry-After; a 500 gives None."""
    response = requests.get(public.url("/429"), timeout=5)

    with pytest.raises(requests.HTTPError) as caught:
        response.raise_for_status()

    assert rate_limit_of(caught.value) == 7.0
    assert rate_limit_of(requests.HTTPError("no response")) is None


def test_rate_limit_of_exhausted_429_retries(public: Server) -> None:
    """A snippet's own Retry(status_forcelist=[429]) giving up is a rate limit too."""
    retry = Retry(total=1, status_forcelist=[429], respect_retry_after_header=False)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))

    with pytest.raises(requests.exceptions.RetryError) as caught:
        session.get(public.url("/429"), timeout=5)

    assert rate_limit_of(caught.value) == 0.0
    assert rate_limit_of(caught.value.args[0]) == 0.0


@respx.mock
def test_rate_limit_of_httpx_status_error() -> None:
    """httpx's raise_for_status on a 429 gives Retry-After, including the HTTP-date form."""
    respx.get("https://api.example.com/a").respond(429, headers={"Retry-After": "12"})
    respx.get("https://api.example.com/b").respond(
        429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )
    respx.get("https://api.example.com/c").respond(503)

    errors = []
    for path in "abc":
        with pytest.raises(httpx.HTTPStatusError) as caught:
            httpx.get(f"https://api.example.com/{path}").raise_for_status()
        errors.append(caught.value)

    assert [rate_limit_of(error) for error in errors] == [12.0, 0.0, None]


def test_rate_limit_of_unrelated_exception_is_none() -> None:
    """Anything that is not a 429 error is not a rate limit."""
    assert rate_limit_of(ValueError("429")) is None
    assert rate_limit_of(KeyboardInterrupt()) is None


# -- the policy value ---------------------------------------------------------------------------------


def test_policy_round_trips_through_a_dict() -> None:
    """to_dict gives JSON-ready data that from_dict turns back into an equal policy."""
    policy = EgressPolicy(
        allowed_hosts=("API.HubAPI.com.", "*.example.com"),
        overrides={"api.hubapi.com": "http://127.0.0.1:8081"},
        max_requests=7,
    )

    data = json.loads(json.dumps(policy.to_dict()))

    assert EgressPolicy.from_dict(data) == policy
    assert policy.allowed_hosts == ("api.hubapi.com", "*.example.com")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"overrides": {"api.hubapi.com": "http://127.0.0.1:8081/v3"}}, "scheme://host[:port]"),
        ({"overrides": {"api.hubapi.com": "ftp://x"}}, "scheme://host[:port]"),
        ({"allowed_hosts": "api.hubapi.com"}, "must be a list"),
        ({"allowed_hosts": ["api.hubapi.com:443"]}, "without a port"),
        ({"max_requests": 0}, "max_requests must be a positive integer, got 0"),
        ({"request_timeout_seconds": float("inf")}, "request_timeout_seconds must be positive"),
        ({"max_request": 3}, "unknown egress policy keys"),
    ],
)
def test_policy_refuses_bad_values_quoting_them(data: dict[str, Any], message: str) -> None:
    """Invalid policy data raises ValueError naming the bad value."""
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        EgressPolicy.from_dict(data)


def test_public_surface_is_pinned() -> None:
    """connectors.egress exports exactly the API the sandbox uses."""
    assert sorted(egress.__all__) == [
        "EgressPolicy",
        "EgressRefused",
        "install_in_child",
        "rate_limit_of",
    ]
