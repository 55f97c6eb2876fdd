"""The real hubspot-api-client, built by make_client, against the local fake HubSpot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import urllib3
from hubspot.automation.actions import ApiException as ActionsApiException
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.objects import (
    ApiException,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectId,
)

from connectors.hubspot import (
    api_error_status,
    complete_callback,
    complete_callbacks,
    make_client,
    retry_after_seconds,
    update_object,
)
from tests.fakes import FakeHubSpot, Scripted

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(access_token=TOKEN) as fake:
        yield fake


@pytest.fixture
def client(hubspot: FakeHubSpot) -> Any:
    return make_client(access_token=TOKEN, base_url=hubspot.url)


def test_client_reads_a_seeded_contact(hubspot: FakeHubSpot, client: Any) -> None:
    """get_by_id returns a SimplePublicObject with the requested properties."""
    contact_id = hubspot.add_object(
        "contacts", {"email": "ada@example.com", "lifecyclestage": "lead"}
    )

    contact = client.crm.contacts.basic_api.get_by_id(contact_id, properties=["email", "phone"])

    assert contact.id == contact_id
    assert contact.properties["email"] == "ada@example.com"
    assert contact.properties["phone"] is None
    assert "lifecyclestage" not in contact.properties
    assert contact.created_at is not None and contact.archived is False
    (request,) = hubspot.requests_to("GET", f"/crm/v3/objects/contacts/{contact_id}")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_read_without_properties_returns_hubspot_defaults(
    hubspot: FakeHubSpot, client: Any
) -> None:
    """Like HubSpot, a read naming no properties returns only the type's default properties."""
    contact_id = hubspot.add_object("contacts", {"email": "ada@example.com", "city": "London"})

    contact = client.crm.contacts.basic_api.get_by_id(contact_id)

    assert contact.properties["email"] == "ada@example.com"
    assert "city" not in contact.properties
    assert contact.properties["hs_object_id"] == contact_id


def test_update_object_writes_properties_as_strings(hubspot: FakeHubSpot, client: Any) -> None:
    """update_object PATCHes the record; HubSpot-style, values are stored as strings."""
    contact_id = hubspot.add_object("contacts", {"email": "ada@example.com"})

    updated = update_object(client, "contacts", contact_id, {"lead_score": 42, "vip": True})

    assert updated.properties["lead_score"] == "42"
    assert hubspot.properties_of("contacts", contact_id)["vip"] == "true"
    (request,) = hubspot.requests_to("PATCH", "/crm/v3/objects/contacts/*")
    assert request.json == {"properties": {"lead_score": 42, "vip": True}}


def test_update_of_missing_object_is_a_404_api_exception(client: Any) -> None:
    """An unknown record id surfaces as ApiException 404 with HubSpot's error body."""
    with pytest.raises(ApiException) as caught:
        update_object(client, "deals", "999", {"amount": "10"})

    assert caught.value.status == 404
    assert '"category": "OBJECT_NOT_FOUND"' in caught.value.body


def test_contacts_api_and_generic_objects_api_share_the_store(
    hubspot: FakeHubSpot, client: Any
) -> None:
    """A snippet's `crm.contacts` update is visible through `crm.objects` and vice versa."""
    contact_id = hubspot.add_object("contacts", {"email": "ada@example.com"})
    body = SimplePublicObjectInput(properties={"firstname": "Ada"})

    client.crm.contacts.basic_api.update(contact_id, body)
    seen = client.crm.objects.basic_api.get_by_id("0-1", contact_id, properties=["firstname"])

    assert seen.properties["firstname"] == "Ada"


def test_batch_read_returns_found_records_and_reports_missing(
    hubspot: FakeHubSpot, client: Any
) -> None:
    """batch/read answers 200 for known ids and 207 with an OBJECT_NOT_FOUND error otherwise."""
    first = hubspot.add_object("line_items", {"name": "Seat", "price": "30", "quantity": "4"})
    inputs = [SimplePublicObjectId(id=first), SimplePublicObjectId(id="404404")]
    request = BatchReadInputSimplePublicObjectId(inputs=inputs, properties=["price", "quantity"])

    response = client.crm.objects.batch_api.read("line_items", request)

    assert [r.properties["quantity"] for r in response.results] == ["4"]
    assert response.errors[0].category == "OBJECT_NOT_FOUND"
    assert response.errors[0].context == {"ids": ["404404"]}


def test_batch_update_changes_every_input(hubspot: FakeHubSpot) -> None:
    """batch/update writes each input's properties."""
    one = hubspot.add_object("deals", {"dealname": "One"})
    two = hubspot.add_object("deals", {"dealname": "Two"})
    inputs = [
        {"id": one, "properties": {"amount": "10"}},
        {"id": two, "properties": {"amount": 20}},
    ]

    response = httpx.post(
        f"{hubspot.url}/crm/v3/objects/deals/batch/update",
        json={"inputs": inputs},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert response.status_code == 200
    assert response.json()["status"] == "COMPLETE"
    assert hubspot.properties_of("deals", two)["amount"] == "20"


def test_associations_are_listed_in_v4_and_v3_shapes(hubspot: FakeHubSpot, client: Any) -> None:
    """Seeded associations come back from the v4 client API and the v3 REST path, both ways."""
    deal = hubspot.add_object("deals", {"dealname": "Big"})
    item = hubspot.add_object("line_items", {"name": "Seat"})
    hubspot.associate("deals", deal, "line_items", item)

    page = client.crm.associations.v4.basic_api.get_page("deals", deal, "line_items")
    v3 = httpx.get(
        f"{hubspot.url}/crm/v3/objects/line_items/{item}/associations/deals",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()

    assert [r.to_object_id for r in page.results] == [item]
    assert page.results[0].association_types[0].type_id == 19
    assert v3 == {"results": [{"id": deal, "type": "line_item_to_deal"}]}


def test_complete_callback_reaches_the_automation_api(hubspot: FakeHubSpot, client: Any) -> None:
    """complete_callback POSTs the output fields to /callbacks/{id}/complete."""
    outputs = {"hs_execution_state": "SUCCESS", "variant": 3}

    complete_callback(client, "ap-102670506-56776413549-7-0", outputs)

    assert hubspot.completed_callbacks == {"ap-102670506-56776413549-7-0": outputs}
    (request,) = hubspot.requests_to("POST", "/automation/v4/actions/callbacks/*/complete")
    assert request.json == {"outputFields": outputs}


def test_complete_callbacks_uses_the_batch_endpoint(hubspot: FakeHubSpot, client: Any) -> None:
    """complete_callbacks completes several callbacks in one batch call."""
    completions = {
        "ap-1": {"hs_execution_state": "SUCCESS"},
        "ap-2": {"hs_execution_state": "FAIL_CONTINUE", "errorCode": "TIMEOUT"},
    }

    complete_callbacks(client, completions)

    assert hubspot.completed_callbacks == completions
    assert [r.path for r in hubspot.requests] == ["/automation/v4/actions/callbacks/complete"]


def test_scripted_429_is_an_api_exception_with_retry_after(
    hubspot: FakeHubSpot, client: Any
) -> None:
    """A scripted rate limit reaches the client as ApiException 429; the next call succeeds."""
    contact_id = hubspot.add_object("contacts", {"email": "ada@example.com"})
    hubspot.script(
        "PATCH", "/crm/v3/objects/contacts/*", Scripted(429, headers={"Retry-After": "1"})
    )

    with pytest.raises(ApiException) as caught:
        update_object(client, "contacts", contact_id, {"firstname": "Ada"})
    update_object(client, "contacts", contact_id, {"firstname": "Ada"})

    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "1"
    assert '"category": "RATE_LIMITS"' in caught.value.body
    assert len(hubspot.requests_to("PATCH", "/crm/v3/objects/contacts/*")) == 2


def test_scripted_responses_are_served_in_order(hubspot: FakeHubSpot, client: Any) -> None:
    """A queue of 429 then 500 is consumed one call at a time, then normal answers resume."""
    hubspot.script("POST", "/automation/v4/actions/callbacks/*", 429, 500)
    statuses = []
    for _ in range(3):
        try:
            complete_callback(client, "ap-9", {"hs_execution_state": "SUCCESS"})
            statuses.append(204)
        except ActionsApiException as error:
            statuses.append(error.status)

    assert statuses == [429, 500, 204]
    assert hubspot.completed_callbacks == {"ap-9": {"hs_execution_state": "SUCCESS"}}


def test_scripted_delay_trips_the_client_timeout(hubspot: FakeHubSpot, client: Any) -> None:
    """A slow answer is cut off by update_object's timeout instead of hanging the caller."""
    contact_id = hubspot.add_object("contacts", {"email": "ada@example.com"})
    hubspot.script("PATCH", "*", Scripted(delay=1.0))

    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        update_object(client, "contacts", contact_id, {"firstname": "Ada"}, timeout=0.2)


def test_wrong_token_is_refused_with_401(hubspot: FakeHubSpot) -> None:
    """When the fake is given a token, other bearer tokens get HubSpot's 401."""
    wrong = make_client(access_token="pat-na1-wrong", base_url=hubspot.url)

    with pytest.raises(ActionsApiException) as caught:
        complete_callback(wrong, "ap-1", {"hs_execution_state": "SUCCESS"})

    assert caught.value.status == 401
    assert hubspot.completed_callbacks == {}


def test_every_call_is_recorded_with_query_and_body(hubspot: FakeHubSpot) -> None:
    """Unrouted calls are recorded too and answered 404 in HubSpot's error shape."""
    response = httpx.post(
        f"{hubspot.url}/crm/v3/nowhere?limit=5",
        json={"a": 1},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    (request,) = hubspot.requests
    assert (request.method, request.path) == ("POST", "/crm/v3/nowhere")
    assert request.query == {"limit": ["5"]}
    assert request.json == {"a": 1}
    assert response.status_code == 404
    assert response.json()["status"] == "error"


def test_api_error_helpers_read_any_api_packages_exception(
    hubspot: FakeHubSpot, client: Any
) -> None:
    """Status and Retry-After are read from the CRM's and the automation API's own classes."""
    hubspot.script("*", "*", Scripted(429, headers={"Retry-After": "2.5"}), 503)
    errors: list[Exception] = []
    for call in (
        lambda: update_object(client, "contacts", "1", {"a": "b"}),
        lambda: complete_callback(client, "ap-1", {"hs_execution_state": "SUCCESS"}),
    ):
        with pytest.raises(Exception) as caught:
            call()
        errors.append(caught.value)

    assert type(errors[0]) is not type(errors[1])
    assert [api_error_status(e) for e in errors] == [429, 503]
    assert [retry_after_seconds(e) for e in errors] == [2.5, None]
    assert api_error_status(ValueError("429")) is None
