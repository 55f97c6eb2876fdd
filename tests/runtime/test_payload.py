"""Turning HubSpot's hook bodies into the snippet's `event`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import runtime.hooks
from runtime.hooks import PayloadError, parse_hook_payload

CUSTOM_CODE = {
    "callbackId": "ap-102670506-56776413549-7-0",
    "origin": {
        "portalId": 102670506,
        "actionDefinitionId": 10646377,
        "actionDefinitionVersion": 1,
        "actionExecutionIndexIdentifier": {"enrollmentId": 3811473221, "actionExecutionIndex": 0},
        "extensionDefinitionId": None,
        "extensionDefinitionVersionId": None,
    },
    "context": {"source": "WORKFLOWS", "workflowId": 192814114},
    "object": {"objectId": 614, "objectType": "CONTACT"},
    "inputFields": {"email": "ada@example.com", "hs_lead_status": "NEW", "num_employees": 40},
}

CUSTOM_ACTION = {
    "callbackId": "ap-102670506-56776413549-8-0",
    "origin": {"portalId": 102670506, "actionDefinitionId": 9, "actionDefinitionVersion": 2},
    "context": {"source": "WORKFLOWS", "workflowId": 192814115},
    "object": {"objectId": 38211, "objectType": "DEAL", "properties": {"amount": "1200"}},
    "fields": {"widgetName": "My Widget", "widgetColor": "Blue"},
    "inputFields": {"widgetColor": "Red"},
}

# "Send a webhook" with all properties of a contact, in the legacy contacts format.
LEGACY_CONTACT_WEBHOOK = {
    "vid": 3234574,
    "canonical-vid": 3234574,
    "portal-id": 62515,
    "is-contact": True,
    "properties": {
        "email": {
            "value": "ada@example.com",
            "versions": [{"value": "ada@example.com", "source-type": "API", "timestamp": 1}],
        },
        "firstname": {"value": "Ada", "versions": []},
        "lifecyclestage": {"value": "lead", "versions": []},
    },
}

# "Send a webhook" in the CRM v3 object format.
V3_RECORD_WEBHOOK = {
    "id": "512",
    "properties": {"dealname": "Renewal", "amount": "5000", "hs_object_id": "512"},
    "createdAt": "2024-02-01T09:00:00.000Z",
    "updatedAt": "2024-02-03T10:00:00.000Z",
    "archived": False,
}


def test_custom_code_payload_becomes_the_hubspot_event() -> None:
    """The custom-code payload is passed through as HubSpot would hand it to `main(event)`."""
    hook = parse_hook_payload(CUSTOM_CODE)

    assert hook.event == {
        "inputFields": CUSTOM_CODE["inputFields"],
        "origin": CUSTOM_CODE["origin"],
        "object": {"objectId": 614, "objectType": "CONTACT"},
        "context": {"source": "WORKFLOWS", "workflowId": 192814114},
        "callbackId": "ap-102670506-56776413549-7-0",
    }
    assert (hook.callback_id, hook.object_type, hook.object_id, hook.portal_id) == (
        "ap-102670506-56776413549-7-0",
        "CONTACT",
        "614",
        102670506,
    )


def test_custom_action_fields_are_input_fields_and_input_fields_win() -> None:
    """Custom workflow actions' `fields` merge into inputFields, which take precedence."""
    hook = parse_hook_payload(CUSTOM_ACTION)

    assert hook.event["inputFields"] == {"widgetName": "My Widget", "widgetColor": "Red"}
    assert hook.event["object"]["properties"] == {"amount": "1200"}
    assert hook.object_type == "DEAL"


def test_string_object_id_is_given_to_the_snippet_as_a_number() -> None:
    """A numeric string objectId reaches the snippet as an int, as HubSpot sends it."""
    body = CUSTOM_CODE | {"object": {"objectId": "614", "objectType": "CONTACT"}}

    hook = parse_hook_payload(body)

    assert hook.event["object"]["objectId"] == 614
    assert hook.object_id == "614"


def test_legacy_contact_webhook_flattens_history_values() -> None:
    """`{"value", "versions"}` property objects become plain values in inputFields."""
    hook = parse_hook_payload(LEGACY_CONTACT_WEBHOOK)

    flat = {"email": "ada@example.com", "firstname": "Ada", "lifecyclestage": "lead"}
    assert hook.event == {
        "inputFields": flat,
        "object": {"objectId": 3234574, "objectType": "CONTACT", "properties": flat},
        "origin": {"portalId": 62515},
    }
    assert (hook.object_id, hook.object_type, hook.portal_id) == ("3234574", "CONTACT", 62515)
    assert hook.callback_id is None


def test_v3_record_webhook_uses_properties_and_id() -> None:
    """A record in CRM v3 shape gives its properties as inputFields and an unknown type."""
    hook = parse_hook_payload(V3_RECORD_WEBHOOK)

    assert hook.event["inputFields"] == V3_RECORD_WEBHOOK["properties"]
    assert hook.event["object"] == {
        "objectId": 512,
        "objectType": None,
        "properties": V3_RECORD_WEBHOOK["properties"],
    }
    assert hook.event["origin"] == {}
    assert (hook.object_id, hook.object_type, hook.portal_id) == ("512", None, None)


def test_record_webhook_object_type_and_portal_id_are_read_when_present() -> None:
    """`objectType` and `portalId` on a record body are used."""
    body = {
        "objectId": 77,
        "objectType": "TICKET",
        "portalId": 62515,
        "properties": {"subject": "Help"},
    }

    hook = parse_hook_payload(body)

    assert (hook.object_type, hook.object_id, hook.portal_id) == ("TICKET", "77", 62515)


def test_legacy_deal_and_company_ids_imply_their_type() -> None:
    """`dealId` and `companyId` bodies from the legacy APIs are typed DEAL and COMPANY."""
    deal = parse_hook_payload({"portalId": 1, "dealId": 151088, "properties": {}})
    company = parse_hook_payload({"portalId": 1, "companyId": 10444744, "properties": {}})

    assert (deal.object_type, deal.object_id) == ("DEAL", "151088")
    assert (company.object_type, company.object_id) == ("COMPANY", "10444744")


def test_empty_body_is_an_event_with_no_inputs() -> None:
    """`{}` parses to an event with empty inputFields and origin, and nothing else."""
    hook = parse_hook_payload({})

    assert hook.event == {"inputFields": {}, "origin": {}}
    assert (hook.callback_id, hook.object_id, hook.portal_id) == (None, None, None)


def test_null_callback_id_is_treated_as_absent() -> None:
    """`"callbackId": null` is no callback, not an error."""
    hook = parse_hook_payload(CUSTOM_CODE | {"callbackId": None})

    assert hook.callback_id is None
    assert "callbackId" not in hook.event


def test_event_does_not_share_structure_with_the_body() -> None:
    """A snippet mutating its event cannot change the stored request body."""
    body = copy.deepcopy(CUSTOM_CODE)

    parse_hook_payload(body).event["inputFields"]["email"] = "changed"

    assert body == CUSTOM_CODE


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (["not", "an", "object"], "", "the hook body must be a JSON object, got ['not', 'an', "),
        ("text", "", "the hook body must be a JSON object, got 'text'"),
        ({"inputFields": ["email"]}, "inputFields", "inputFields must be a JSON object, got ['"),
        ({"fields": "x"}, "fields", "fields must be a JSON object, got 'x'"),
        ({"origin": 5}, "origin", "origin must be a JSON object, got 5"),
        ({"context": []}, "context", "context must be a JSON object, got []"),
        ({"object": "614"}, "object", "object must be a JSON object, got '614'"),
        ({"object": {"objectId": 6.5}}, "object.objectId", "got 6.5"),
        ({"object": {"objectId": True}}, "object.objectId", "got True"),
        ({"object": {"objectId": -3}}, "object.objectId", "got -3"),
        ({"object": {"objectId": ""}}, "object.objectId", "got ''"),
        ({"object": {"objectId": 1, "objectType": 0}}, "object.objectType", "string, got 0"),
        ({"object": {"objectId": 1, "properties": []}}, "object.properties", "got []"),
        ({"callbackId": 42}, "callbackId", "callbackId must be a non-empty string of at most 255"),
        ({"callbackId": ""}, "callbackId", "got ''"),
        ({"origin": {"portalId": "abc"}}, "origin.portalId", "must be an integer, got 'abc'"),
        ({"id": "5", "properties": ["email"]}, "properties", "properties must be a JSON object"),
        ({"id": {"nested": 1}, "properties": {}}, "id", "id must be a non-negative integer"),
        ({"vid": 1, "portal-id": "x1"}, "portal-id", "portal-id must be an integer, got 'x1'"),
    ],
)
def test_malformed_payload_is_refused_naming_field_and_value(
    body: Any, field: str, message: str
) -> None:
    """Each refusal names the field at fault and quotes the value it got."""
    with pytest.raises(PayloadError) as caught:
        parse_hook_payload(body)

    assert message in str(caught.value)
    assert caught.value.field == field


def test_overlong_callback_id_is_refused_and_quoted_truncated() -> None:
    """A 300-character callbackId is refused; the message quotes it shortened."""
    with pytest.raises(PayloadError, match="at most 255 characters, got 'ap-aaaa") as caught:
        parse_hook_payload({"callbackId": "ap-" + "a" * 297})

    assert len(str(caught.value)) < 160
    assert "..." in str(caught.value)


def test_callback_id_of_exactly_255_characters_is_accepted() -> None:
    """The callbackId limit is inclusive."""
    callback_id = "ap-" + "1" * 252

    assert parse_hook_payload({"callbackId": callback_id}).callback_id == callback_id


def test_huge_bad_value_is_quoted_briefly() -> None:
    """Quoting a very large wrong value stays short."""
    with pytest.raises(PayloadError) as caught:
        parse_hook_payload({"inputFields": list(range(100_000))})

    assert str(caught.value) == "inputFields must be a JSON object, got [0, 1, 2, ...]"


def test_public_surface_is_pinned() -> None:
    """runtime.hooks exposes a small, deliberate API."""
    assert sorted(runtime.hooks.__all__) == [
        "HookError",
        "HookEvent",
        "HookResponse",
        "PayloadError",
        "block_response",
        "hook_response",
        "overloaded_response",
        "parse_hook_payload",
    ]
