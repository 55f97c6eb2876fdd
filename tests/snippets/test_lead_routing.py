"""The lead-routing snippet through the service, against a fake availability service."""

from __future__ import annotations

import time
from typing import Any

import pytest

from runtime.auth import Role
from sandbox import ExecutionStatus, Executor
from tests.snippets.conftest import AVAILABILITY_KEY, SNIPPETS, Service, manifest

NAME = "lead-routing"
DEFAULTS = {"default_owner_id": "52740193", "default_owner_email": "queue@example.com"}


def rep(owner_id: str, **fields: Any) -> dict[str, Any]:
    return {"ownerId": owner_id, "email": f"rep{owner_id}@example.com", **fields}


def route(service: Service, **inputs: Any) -> dict[str, Any]:
    return service.outputs(NAME, {"territory": "EMEA", **DEFAULTS, **inputs})


def test_routes_to_the_least_recently_assigned_available_rep(service: Service) -> None:
    """Without a strategy, the available rep assigned longest ago gets the lead."""
    service.availability.reply(
        [
            rep("101", lastAssignedAt="2026-03-09T10:00:00Z", openLeads=1),
            rep("102", lastAssignedAt="2026-03-09T08:15:00Z", openLeads=9),
            rep("103", lastAssignedAt="2026-03-09T09:00:00+01:00", openLeads=0),
        ]
    )
    out = route(service, language="DE")
    assert out["owner_id"] == "103"
    assert out["owner_email"] == "rep103@example.com"
    assert out["routing_fallback"] is False
    assert out["routing_reason"] == "least recently assigned of 3 available reps for EMEA/de"
    assert out["hs_execution_state"] == "SUCCESS"
    [request] = service.availability.requests
    assert request["path"] == "/v1/reps/available"
    assert request["query"] == {"territory": "EMEA", "language": "de"}


def test_routes_to_fewest_open_leads_when_the_service_says_so(service: Service) -> None:
    """A `fewest_open_leads` strategy picks the rep with the fewest open leads, ties by owner ID."""
    service.availability.reply(
        body={
            "strategy": "fewest_open_leads",
            "reps": [rep("205", openLeads=2), rep("204", openLeads=2), rep("203", openLeads=7)],
        }
    )
    out = route(service)
    assert out["owner_id"] == "204"
    assert out["routing_reason"] == "fewest open leads (2) of 3 available reps for EMEA"


def test_skips_unavailable_and_malformed_reps(service: Service) -> None:
    """Reps marked unavailable and entries without an owner ID or e-mail are never picked."""
    service.availability.reply(
        [
            rep("301", available=False),
            {"ownerId": "", "email": "nobody@example.com"},
            "garbage",
            rep("302", available=True, lastAssignedAt="2026-03-01T00:00:00Z"),
        ]
    )
    out = route(service)
    assert (out["owner_id"], out["routing_fallback"]) == ("302", False)


def test_all_reps_unavailable_falls_back_to_the_default_owner(service: Service) -> None:
    """Nobody available: the default owner, routing_fallback true, and the reason says so."""
    service.availability.reply([rep("401", available=False), rep("402", available=False)])
    out = route(service, language="fr")
    assert out["owner_id"] == "52740193"
    assert out["owner_email"] == "queue@example.com"
    assert out["routing_fallback"] is True
    assert out["routing_reason"] == "fallback: no rep is available for EMEA/fr"


def test_slow_service_falls_back_after_three_seconds(service: Service) -> None:
    """A service slower than 3 s is abandoned: the lead goes to the default owner in time."""
    service.availability.reply([rep("501")], delay=6)
    started = time.monotonic()
    out = route(service)
    elapsed = time.monotonic() - started
    assert out["routing_fallback"] is True
    assert out["routing_reason"] == "fallback: availability service timed out after 3 s"
    assert 3 <= elapsed < 5.5


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status": 503, "body": {"error": "maintenance"}}, "availability service answered HTTP 503"),
        ({"raw": b"<html>Bad gateway</html>"}, "availability service answered something that is not JSON"),
        ({"body": {"available": ["101"]}}, "availability service answered JSON without a 'reps' list"),
        ({"body": {"reps": [{"id": 7}]}}, "availability service answered reps without owner IDs or e-mails"),
    ],
    ids=["http-503", "not-json", "no-reps-list", "reps-without-ids"],
)  # fmt: skip
def test_broken_service_answers_fall_back_with_the_reason(
    service: Service, answer: dict[str, Any], reason: str
) -> None:
    """A down service or a garbage answer routes to the default owner and names the problem."""
    service.availability.reply(**answer)
    out = route(service)
    assert out["owner_id"] == "52740193"
    assert out["routing_fallback"] is True
    assert out["routing_reason"] == "fallback: " + reason


def test_refused_api_key_falls_back_naming_the_secret(service: Service) -> None:
    """A 401 from the service falls back and tells the ops specialist to check the secret."""
    key, service.availability.api_key = service.availability.api_key, "a-different-key"
    try:
        service.availability.reply([rep("601")])
        out = route(service)
    finally:
        service.availability.api_key = key
    assert out["routing_fallback"] is True
    assert "refused the API key (HTTP 401)" in out["routing_reason"]
    assert "AVAILABILITY_API_KEY" in out["routing_reason"]


def test_missing_territory_fails_with_a_clear_message(service: Service) -> None:
    """Without a territory the action fails (FAIL_CONTINUE) and names the input field."""
    response = service.call(NAME, {"territory": "", **DEFAULTS})
    out = response.json()["outputFields"]
    assert out["hs_execution_state"] == "FAIL_CONTINUE"
    assert "'territory'" in out["errorMessage"]
    assert service.availability.requests == []


def test_fallback_without_a_default_owner_fails_with_a_clear_message(service: Service) -> None:
    """With nobody available and no default owner configured, the action fails and says how to fix it."""
    service.availability.reply([])
    out = service.call(NAME, {"territory": "APAC"}).json()["outputFields"]
    assert out["hs_execution_state"] == "FAIL_CONTINUE"
    assert "no rep is available for APAC" in out["errorMessage"]
    assert "default_owner_id" in out["errorMessage"]


def test_dry_run_would_write_the_owner_to_hubspot_owner_id(service: Service) -> None:
    """The declared writeBack maps owner_id onto the contact's hubspot_owner_id."""
    service.availability.reply([rep("701")])
    event = {
        "object": {"objectId": 9001, "objectType": "CONTACT"},
        "inputFields": {"territory": "NA-West", **DEFAULTS},
    }
    response = service.server.client(Role.EDITOR).post(
        f"/v1/snippets/{NAME}/test", json={"event": event}
    )
    assert response.status_code == 200, response.text
    assert response.json()["wouldWrite"] == {
        "objectType": "CONTACT",
        "objectId": 9001,
        "properties": {"hubspot_owner_id": "701"},
    }


def test_granted_api_key_is_sent_as_a_bearer_token(service: Service) -> None:
    """The service hands the snippet its AVAILABILITY_API_KEY; it goes out as `Bearer`."""
    service.availability.reply([rep("801")])
    assert route(service)["owner_id"] == "801"
    headers = service.availability.requests[-1]["headers"]
    assert headers["authorization"] == f"Bearer {AVAILABILITY_KEY}"


def test_without_the_secret_routing_falls_back_naming_it(
    service: Service, executor: Executor
) -> None:
    """Run without AVAILABILITY_API_KEY, the service refuses the call and the reason names the secret."""
    service.availability.reply([rep("802")])
    result = executor.run(
        (SNIPPETS / "lead_routing.py").read_text(),
        {"inputFields": {"territory": "EMEA", **DEFAULTS}},
        output_types=manifest()[NAME]["outputFields"],
        egress={"overrides": {"availability.example.com": service.availability.url}},
    )
    assert result.status is ExecutionStatus.SUCCESS, result.error
    assert result.output_fields is not None
    assert result.output_fields["routing_fallback"] is True
    assert "check the AVAILABILITY_API_KEY secret" in result.output_fields["routing_reason"]
    assert "AVAILABILITY_API_KEY secret is not granted" in result.logs
