"""Egress in real forked children: allowlists, request/body/time caps, rate limits, the policy value."""

from __future__ import annotations

import json
import multiprocessing
import socket
import time
from typing import Any

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
from tests.connectors.egress_support import (
    Server,
    attempts,
    fake_resolver,
    httpx_json_of,
    hubapi,
    in_child,
    refused,
    status_of,
)

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
        "prepare",
        "rate_limit_of",
    ]


def test_prepared_hooks_refuse_all_egress_until_a_policy_is_set(public: Server) -> None:
    """After `prepare()` (the zygote's step) and before a child's policy, nothing gets out."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def main() -> None:
        egress.prepare()
        try:
            requests.get(public.url("/crm/v3/objects/contacts/1"), timeout=5)
            send.send("reached")
        except requests.exceptions.RequestException as exc:
            send.send(str(exc))

    process = context.Process(target=main)
    process.start()
    assert receive.poll(30)
    message = receive.recv()
    process.join(10)
    assert "egress refused" in message, message
