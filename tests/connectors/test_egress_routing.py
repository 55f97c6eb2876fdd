"""Egress in real forked children: overrides, private addresses, and going below the usual level."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from collections.abc import Callable
from typing import Any

import httpx
import hubspot
import requests
from requests.adapters import HTTPAdapter

from tests.connectors.egress_support import (
    Server,
    attempts,
    fake_resolver,
    httpx_json_of,
    hubapi,
    in_child,
    json_of,
    refused,
    status_of,
)

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
