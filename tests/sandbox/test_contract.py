"""HubSpot snippets written the way HubSpot users write them, run through the real sandbox.

CRM calls go to a local fake HubSpot through CODEHOOK_EGRESS_OVERRIDES (`egress.overrides`),
exactly how staging points snippets that hard-code https://api.hubapi.com at a fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import ExecutionStatus, Executor
from tests.fakes.hubspot import FakeHubSpot, Scripted


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    """A fake HubSpot on a free local port."""
    with FakeHubSpot(access_token="pat-na1-test") as fake:
        yield fake


def _egress(fake: FakeHubSpot) -> dict[str, Any]:
    return {"overrides": {"api.hubapi.com": fake.url}}


UPDATE_CONTACT = """
import os
import hubspot
from hubspot.crm.contacts import SimplePublicObjectInput, ApiException

def main(event):
    client = hubspot.Client.create(access_token=os.getenv("hstoken"))
    contact_id = event["object"]["objectId"]
    try:
        contact = client.crm.contacts.basic_api.get_by_id(contact_id, properties=["email", "firstname"])
        email = contact.properties["email"]
        update = SimplePublicObjectInput(properties={"lifecyclestage": "lead"})
        client.crm.contacts.basic_api.update(contact_id, simple_public_object_input=update)
    except ApiException as e:
        print("HubSpot error:", e.status)
        raise
    return {"outputFields": {"email": email, "domain": email.split("@")[1]}}
"""


def test_hubspot_client_reads_and_updates_a_contact(
    executor: Executor, hubspot: FakeHubSpot
) -> None:
    """`hubspot.Client.create` + `crm.contacts.basic_api` work unchanged against the fake."""
    contact_id = hubspot.add_object("contacts", {"email": "ada@example.com", "firstname": "Ada"})
    event = {"inputFields": {}, "object": {"objectId": int(contact_id), "objectType": "CONTACT"}}
    result = executor.run(
        UPDATE_CONTACT, event, secrets={"hstoken": "pat-na1-test"}, egress=_egress(hubspot)
    )
    assert result.status is ExecutionStatus.SUCCESS, result.error
    assert result.output_fields == {"email": "ada@example.com", "domain": "example.com"}
    assert hubspot.properties_of("contacts", contact_id)["lifecyclestage"] == "lead"
    patch = hubspot.requests_to("PATCH", f"/crm/v3/objects/contacts/{contact_id}")
    assert len(patch) == 1
    assert patch[0].headers["authorization"] == "Bearer pat-na1-test"


def test_hubspot_rate_limit_is_reported_for_retry(executor: Executor, hubspot: FakeHubSpot) -> None:
    """A HubSpot 429 the snippet lets escape marks the result rate-limited with Retry-After."""
    contact_id = hubspot.add_object("contacts", {"email": "ada@example.com"})
    hubspot.script(
        "GET", f"/crm/v3/objects/contacts/{contact_id}", Scripted(429, headers={"Retry-After": "7"})
    )
    event = {"object": {"objectId": int(contact_id), "objectType": "CONTACT"}}
    result = executor.run(
        UPDATE_CONTACT, event, secrets={"hstoken": "pat-na1-test"}, egress=_egress(hubspot)
    )
    assert result.status is ExecutionStatus.ERROR
    assert result.rate_limited
    assert result.retry_after_seconds == 7
    assert "HubSpot error: 429" in result.logs


def test_requests_and_httpx_reach_an_overridden_host(
    executor: Executor, hubspot: FakeHubSpot
) -> None:
    """`requests` and `httpx` calls to api.hubapi.com go to the override, path and query kept."""
    contact_id = hubspot.add_object("contacts", {"email": "grace@example.com"})
    code = f"""
import os, requests, httpx

def main(event):
    url = "https://api.hubapi.com/crm/v3/objects/contacts/{contact_id}?properties=email"
    headers = {{"Authorization": "Bearer {{}}".format(os.getenv("hstoken"))}}
    r = requests.get(url, headers=headers, timeout=5)
    r.raise_for_status()
    h = httpx.get(url, headers=headers)
    return {{"outputFields": {{"a": r.json()["properties"]["email"], "b": h.json()["properties"]["email"],
                             "status": r.status_code}}}}
"""
    result = executor.run(code, {}, secrets={"hstoken": "pat-na1-test"}, egress=_egress(hubspot))
    assert result.status is ExecutionStatus.SUCCESS, result.error
    assert result.output_fields == {
        "a": "grace@example.com",
        "b": "grace@example.com",
        "status": 200,
    }
    gets = hubspot.requests_to("GET", f"/crm/v3/objects/contacts/{contact_id}")
    assert [g.query.get("properties") for g in gets] == [["email"], ["email"]]


def test_requests_exceptions_and_basic_auth_work(executor: Executor, hubspot: FakeHubSpot) -> None:
    """`requests.exceptions.*`, `raise_for_status` and `requests.auth.HTTPBasicAuth` behave as usual."""
    code = """
import requests
from requests.auth import HTTPBasicAuth

def main(event):
    try:
        r = requests.get("https://api.hubapi.com/crm/v3/objects/contacts/999999",
                         auth=HTTPBasicAuth("user", "pass"), timeout=5)
        r.raise_for_status()
    except requests.exceptions.HTTPError as e:
        return {"outputFields": {"status": e.response.status_code}}
"""
    result = executor.run(code, {}, egress=_egress(hubspot))
    assert result.status is ExecutionStatus.SUCCESS, result.error
    assert result.output_fields == {"status": 401}


def test_ssrf_to_loopback_is_refused_inside_the_sandbox(
    executor: Executor, hubspot: FakeHubSpot
) -> None:
    """Calling the fake's own address directly (not through the override) is refused."""
    port = hubspot.url.rsplit(":", 1)[1]
    code = f"""
import requests

def main(event):
    try:
        requests.get("http://127.0.0.2:{port}/crm/v3/objects/contacts/1", timeout=2)
    except requests.exceptions.ConnectionError as e:
        return {{"outputFields": {{"refused": "egress refused" in str(e)}}}}
"""
    result = executor.run(code, {}, egress=_egress(hubspot))
    assert result.output_fields == {"refused": True}, result
    assert hubspot.requests == []
