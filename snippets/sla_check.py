# Check a ticket's first-response SLA in business hours, in the customer's time zone.
#
# What it does: takes the customer's contract tier and the ticket's priority, looks up the
# first-response target (in business hours), and counts it from the ticket's creation in the
# customer's time zone: 09:00-17:00 Monday to Friday, skipping the holidays listed below, with
# daylight-saving changes handled by zoneinfo. Then it compares the due time with now.
# When contract_tier or time_zone are not given as inputs, it reads them from the company
# associated with the ticket (company properties contract_tier and time_zone).
# An unknown tier uses the standard targets and an unknown time zone DEFAULT_TIME_ZONE; both
# are said in sla_note, never silently.
#
# Inputs (Property to include in code):
#   hs_ticket_priority  required - LOW, MEDIUM, HIGH or URGENT (the ticket's Priority).
#   createdate          required - the ticket's Create date (HubSpot sends UNIX milliseconds).
#   contract_tier       optional - enterprise, premium or standard (else read from the company).
#   time_zone           optional - an IANA zone such as Europe/Berlin (else from the company).
#   now                 optional - the time to check against (UNIX ms or ISO-8601); for tests.
#
# Secrets:
#   hstoken  a HubSpot private app token (tickets and companies read); only needed when the
#            tier or time zone come from the associated company.
#
# Outputs (Data outputs):
#   sla_due_at         datetime - when the first response is due; copy it to a ticket property.
#   sla_status         enumeration on_track / at_risk / breached - the branch "SLA status"
#                      sends a Slack notification to the team when it is at_risk or breached.
#   minutes_remaining  number - business minutes left until due (negative once breached).
#   sla_note           string - which tier, priority, target and hours were used.

import os
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import hubspot
from hubspot.crm.associations.v4 import ApiException as AssociationsError
from hubspot.crm.companies import ApiException as CompaniesError

# First-response targets in business hours, by contract tier and ticket priority.
TARGET_HOURS = {
    "enterprise": {"URGENT": 1, "HIGH": 2, "MEDIUM": 4, "LOW": 8},
    "premium": {"URGENT": 2, "HIGH": 4, "MEDIUM": 8, "LOW": 16},
    "standard": {"URGENT": 4, "HIGH": 8, "MEDIUM": 16, "LOW": 24},
}
DEFAULT_TIER = "standard"
DEFAULT_TIME_ZONE = "America/New_York"
OPENS = time(9, 0)
CLOSES = time(17, 0)
WORKDAYS = {0, 1, 2, 3, 4}  # Monday to Friday
AT_RISK_SHARE = 0.25  # at risk once a quarter of the target (or less) is left
# Days the support team is closed (dates in the customer's time zone); keep them up to date.
HOLIDAYS = {
    "2025-01-01",
    "2025-05-26",
    "2025-07-04",
    "2025-09-01",
    "2025-11-27",
    "2025-12-25",
    "2025-12-26",
    "2026-01-01",
    "2026-05-25",
    "2026-07-03",
    "2026-09-07",
    "2026-11-26",
    "2026-12-25",
    "2026-12-28",
    "2027-01-01",
}
MAX_DAYS = 3660  # stop counting after ten years: the input must be wrong


def main(event):
    inputs = event.get("inputFields") or {}
    priority = str(inputs.get("hs_ticket_priority") or "").strip().upper()
    if priority not in TARGET_HOURS[DEFAULT_TIER]:
        raise ValueError(
            "input field 'hs_ticket_priority' must be one of LOW, MEDIUM, HIGH, URGENT, "
            "got {}".format(repr(inputs.get("hs_ticket_priority")))
        )
    created = parse_time(inputs.get("createdate"), "createdate")
    now = parse_time(inputs.get("now"), "now") if inputs.get("now") else datetime.now(timezone.utc)

    notes = []
    tier = str(inputs.get("contract_tier") or "").strip().lower()
    zone_name = str(inputs.get("time_zone") or "").strip()
    if not tier or not zone_name:
        company = company_properties(event, notes)
        tier = tier or str(company.get("contract_tier") or "").strip().lower()
        zone_name = zone_name or str(company.get("time_zone") or "").strip()
    if tier not in TARGET_HOURS:
        notes.append("unknown contract tier {}, used {} targets".format(repr(tier), DEFAULT_TIER))
        tier = DEFAULT_TIER
    zone = time_zone(zone_name, notes)

    target_minutes = TARGET_HOURS[tier][priority] * 60
    due = add_business_minutes(created.astimezone(zone), target_minutes)
    now_local = now.astimezone(zone)
    if now_local < due:
        remaining = business_minutes(now_local, due)
    else:
        remaining = -business_minutes(due, now_local)
    if now_local >= due:
        status = "breached"
    elif remaining <= target_minutes * AT_RISK_SHARE:
        status = "at_risk"
    else:
        status = "on_track"

    hours = target_minutes // 60
    notes.insert(
        0,
        "{} tier, {} priority: {} business hour{} ({}-{} {}, Mon-Fri, holidays excluded); "
        "due {}".format(
            tier,
            priority,
            hours,
            "" if hours == 1 else "s",
            OPENS.strftime("%H:%M"),
            CLOSES.strftime("%H:%M"),
            zone.key,
            due.strftime("%Y-%m-%d %H:%M %Z"),
        ),
    )
    note = "; ".join(notes)
    print(status, "-", note)
    return {
        "outputFields": {
            "sla_due_at": due.astimezone(timezone.utc),
            "sla_status": status,
            "minutes_remaining": int(remaining),
            "sla_note": note,
        }
    }


def is_business_day(day):
    return day.weekday() in WORKDAYS and day.isoformat() not in HOLIDAYS


def opening(day, zone):
    return datetime.combine(day, OPENS, tzinfo=zone)


def closing(day, zone):
    return datetime.combine(day, CLOSES, tzinfo=zone)


def add_business_minutes(start, minutes):
    """The local time `minutes` business minutes after `start` (a time in the customer's zone)."""
    zone = start.tzinfo
    for offset in range(MAX_DAYS):
        day = start.date() + timedelta(days=offset)
        if not is_business_day(day):
            continue
        moment = max(start, opening(day, zone))
        left_today = (closing(day, zone) - moment).total_seconds() / 60
        if left_today < 0:
            continue  # started after closing time
        # Wall-clock arithmetic is right here: no zone changes its clocks between 9 and 17.
        if minutes <= left_today:
            return moment + timedelta(minutes=minutes)
        minutes -= left_today
    raise ValueError("no business day found within {} days".format(MAX_DAYS))


def business_minutes(start, end):
    """Business minutes between two local times (start before end)."""
    zone = start.tzinfo
    if (end.date() - start.date()).days > MAX_DAYS:
        raise ValueError("the ticket is more than ten years old: check createdate and now")
    total = 0.0
    day = start.date()
    while day <= end.date():
        if is_business_day(day):
            low = max(start, opening(day, zone))
            high = min(end, closing(day, zone))
            if high > low:
                total += (high - low).total_seconds() / 60
        day += timedelta(days=1)
    return int(total)


def parse_time(value, field):
    """UNIX milliseconds (as HubSpot sends date-time properties) or ISO-8601, as aware UTC."""
    text = str(value or "").strip()
    if not text:
        raise ValueError(
            "input field {} is empty: add the ticket's {} under 'Property to include in "
            "code'".format(repr(field), "Create date" if field == "createdate" else field)
        )
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            "input field {} must be UNIX milliseconds or an ISO-8601 date-time, got {}".format(
                repr(field), repr(value)
            )
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def time_zone(name, notes):
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            notes.append("unknown time zone {}, used {}".format(repr(name), DEFAULT_TIME_ZONE))
    else:
        notes.append("no time zone given, used {}".format(DEFAULT_TIME_ZONE))
    return ZoneInfo(DEFAULT_TIME_ZONE)


def company_properties(event, notes):
    """contract_tier and time_zone of the ticket's first associated company, or {}."""
    ticket_id = str((event.get("object") or {}).get("objectId") or "")
    if not ticket_id.isdigit():
        notes.append("no ticket ID in the event to look up its company")
        return {}
    client = hubspot.Client.create(access_token=os.getenv("hstoken"))
    try:
        page = client.crm.associations.v4.basic_api.get_page("tickets", ticket_id, "companies")
        if not page.results:
            notes.append("ticket {} has no associated company".format(ticket_id))
            return {}
        company_id = str(page.results[0].to_object_id)
        company = client.crm.companies.basic_api.get_by_id(
            company_id, properties=["name", "contract_tier", "time_zone"]
        )
    except (AssociationsError, CompaniesError) as exc:
        if exc.status == 429:
            raise  # rate-limited: HubSpot retries the action later
        if exc.status == 401:
            hint = " (check the hstoken secret)"
        else:
            hint = ""
        notes.append("could not read the ticket's company: HubSpot {}{}".format(exc.status, hint))
        return {}
    return company.properties or {}
