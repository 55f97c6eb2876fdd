"""The SLA-check snippet through the service: business hours in the customer's time zone."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.snippets.conftest import Service

NAME = "sla-check"


def local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def check(service: Service, ticket_id: str | int = 7001, **inputs: Any) -> dict[str, Any]:
    return service.outputs(NAME, inputs, object_id=ticket_id, object_type="TICKET")


# tier, priority, zone, created (local), now (local), due (local), status, business minutes left
CASES = {
    "same-day": ("enterprise", "MEDIUM", "America/New_York", "2026-03-03 10:00", "2026-03-03 10:30", "2026-03-03 14:00", "on_track", 210),
    "after-hours-rolls-to-next-morning": ("enterprise", "MEDIUM", "America/New_York", "2026-03-03 18:30", "2026-03-03 19:00", "2026-03-04 13:00", "on_track", 240),
    "before-opening-starts-at-nine": ("premium", "URGENT", "Europe/Berlin", "2026-03-04 07:10", "2026-03-04 07:10", "2026-03-04 11:00", "on_track", 120),
    "weekend-is-skipped": ("premium", "HIGH", "Europe/Berlin", "2026-03-06 16:00", "2026-03-07 12:00", "2026-03-09 12:00", "on_track", 180),
    "created-on-sunday": ("standard", "URGENT", "Asia/Tokyo", "2026-03-08 22:00", "2026-03-09 09:00", "2026-03-09 13:00", "on_track", 240),
    "holidays-are-skipped": ("standard", "HIGH", "America/New_York", "2025-12-24 15:00", "2025-12-24 15:00", "2025-12-29 15:00", "on_track", 480),
    "dst-spring-forward": ("enterprise", "HIGH", "America/New_York", "2026-03-06 16:30", "2026-03-09 09:00", "2026-03-09 10:30", "on_track", 90),
    "dst-fall-back": ("premium", "HIGH", "Europe/Berlin", "2026-10-23 16:00", "2026-10-25 12:00", "2026-10-26 12:00", "on_track", 180),
    "at-risk-with-a-quarter-left": ("enterprise", "HIGH", "Europe/London", "2026-03-03 10:00", "2026-03-03 11:30", "2026-03-03 12:00", "at_risk", 30),
    "at-risk-near-the-end": ("enterprise", "HIGH", "Europe/London", "2026-03-03 10:00", "2026-03-03 11:40", "2026-03-03 12:00", "at_risk", 20),
    "breached-at-the-due-time": ("enterprise", "HIGH", "Europe/London", "2026-03-03 10:00", "2026-03-03 12:00", "2026-03-03 12:00", "breached", 0),
    "breached-after-due": ("enterprise", "HIGH", "Europe/London", "2026-03-03 10:00", "2026-03-03 12:45", "2026-03-03 12:00", "breached", -45),
    "breached-over-a-weekend": ("enterprise", "URGENT", "America/New_York", "2026-03-06 15:00", "2026-03-09 10:00", "2026-03-06 16:00", "breached", -120),
}  # fmt: skip


@pytest.mark.parametrize(
    ("tier", "priority", "zone", "created", "now", "due", "status", "minutes"),
    list(CASES.values()),
    ids=list(CASES),
)
def test_due_time_status_and_minutes_follow_business_hours(
    service: Service,
    tier: str,
    priority: str,
    zone: str,
    created: str,
    now: str,
    due: str,
    status: str,
    minutes: int,
) -> None:
    """The due time counts 09:00-17:00 weekdays in the customer's zone, minus holidays."""
    out = check(
        service,
        hs_ticket_priority=priority.lower(),
        createdate=str(ms(local(created, zone))),
        contract_tier=tier.title(),
        time_zone=zone,
        now=local(now, zone).isoformat(),
    )
    assert out["hs_execution_state"] == "SUCCESS", out
    assert out["sla_due_at"] == ms(local(due, zone))
    assert out["sla_status"] == status
    assert out["minutes_remaining"] == minutes


def test_dst_changes_move_the_due_time_in_utc(service: Service) -> None:
    """Across New York's spring-forward weekend the due time is 14:30 UTC, not 15:30."""
    out = check(
        service,
        hs_ticket_priority="HIGH",
        createdate="2026-03-06T21:30:00Z",
        contract_tier="enterprise",
        time_zone="America/New_York",
        now="2026-03-09T13:00:00Z",
    )
    assert out["sla_due_at"] == ms(datetime(2026, 3, 9, 14, 30, tzinfo=UTC))
    assert "due 2026-03-09 10:30 EDT" in out["sla_note"]


def test_unknown_tier_uses_standard_targets_and_says_so(service: Service) -> None:
    """A tier without targets gets the standard ones (URGENT: 4 h) and the note names it."""
    out = check(
        service,
        hs_ticket_priority="URGENT",
        createdate=str(ms(local("2026-03-03 09:00", "Europe/Paris"))),
        contract_tier="Gold",
        time_zone="Europe/Paris",
        now="2026-03-03T08:00:00Z",
    )
    assert out["sla_due_at"] == ms(local("2026-03-03 13:00", "Europe/Paris"))
    assert "unknown contract tier 'gold', used standard targets" in out["sla_note"]


def test_unknown_time_zone_falls_back_and_says_so(service: Service) -> None:
    """An unknown zone name uses America/New_York and the note names the bad value."""
    out = check(
        service,
        hs_ticket_priority="URGENT",
        createdate=str(ms(local("2026-03-03 09:00", "America/New_York"))),
        contract_tier="enterprise",
        time_zone="Mars/Olympus_Mons",
        now="2026-03-03T14:00:00Z",
    )
    assert out["sla_due_at"] == ms(local("2026-03-03 10:00", "America/New_York"))
    assert "unknown time zone 'Mars/Olympus_Mons', used America/New_York" in out["sla_note"]


def test_tier_and_time_zone_are_read_from_the_associated_company(service: Service) -> None:
    """Without tier/zone inputs, the ticket's company's contract_tier and time_zone are used."""
    hubspot = service.hubspot
    ticket = hubspot.add_object(
        "tickets", {"subject": "Login broken", "hs_ticket_priority": "URGENT"}
    )
    company = hubspot.add_object(
        "companies",
        {"name": "Northwind", "contract_tier": "Enterprise", "time_zone": "Europe/Berlin"},
    )
    hubspot.associate("tickets", ticket, "companies", company)
    out = check(
        service,
        ticket_id=ticket,
        hs_ticket_priority="URGENT",
        createdate=str(ms(local("2026-03-03 10:00", "Europe/Berlin"))),
        now="2026-03-03T09:15:00Z",
    )
    assert out["sla_due_at"] == ms(local("2026-03-03 11:00", "Europe/Berlin"))
    assert (out["sla_status"], out["minutes_remaining"]) == ("on_track", 45)
    assert out["sla_note"].startswith("enterprise tier, URGENT priority: 1 business hour (")


def test_ticket_without_a_company_uses_defaults_and_says_so(service: Service) -> None:
    """No tier input and no associated company: standard targets, default zone, both noted."""
    ticket = service.hubspot.add_object("tickets", {"subject": "Question"})
    out = check(
        service,
        ticket_id=ticket,
        hs_ticket_priority="LOW",
        createdate=str(ms(local("2026-03-02 09:00", "America/New_York"))),
        now="2026-03-02T14:00:00Z",
    )
    assert out["sla_due_at"] == ms(local("2026-03-04 17:00", "America/New_York"))
    assert f"ticket {ticket} has no associated company" in out["sla_note"]
    assert "no time zone given, used America/New_York" in out["sla_note"]


def test_now_defaults_to_the_current_time(service: Service) -> None:
    """Without `now`, a ticket created this instant has its whole target left."""
    out = check(
        service,
        hs_ticket_priority="LOW",
        createdate=str(int(time.time() * 1000)),
        contract_tier="enterprise",
        time_zone="UTC",
    )
    assert out["sla_status"] == "on_track"
    assert 478 <= out["minutes_remaining"] <= 480


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"hs_ticket_priority": "HIGH"}, "'createdate'"),
        ({"createdate": "1772532000000"}, "'hs_ticket_priority'"),
        (
            {"hs_ticket_priority": "P1", "createdate": "1772532000000"},
            "'hs_ticket_priority' must be one of LOW, MEDIUM, HIGH, URGENT, got 'P1'",
        ),
        (
            {"hs_ticket_priority": "HIGH", "createdate": "yesterday"},
            "'createdate' must be UNIX milliseconds or an ISO-8601 date-time, got 'yesterday'",
        ),
    ],
    ids=["no-createdate", "no-priority", "unknown-priority", "unreadable-createdate"],
)
def test_bad_inputs_fail_with_a_clear_message(
    service: Service, inputs: dict[str, Any], message: str
) -> None:
    """Missing or unreadable inputs fail the action (FAIL_CONTINUE) naming the field."""
    inputs = {"contract_tier": "premium", "time_zone": "UTC", **inputs}
    out = service.call(NAME, inputs, object_type="TICKET").json()["outputFields"]
    assert out["hs_execution_state"] == "FAIL_CONTINUE"
    assert message in out["errorMessage"]
