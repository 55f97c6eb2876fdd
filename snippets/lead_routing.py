# Route a new lead to an available sales rep, asking an external availability service.
#
# What it does: asks the availability service which reps are available right now for the
# lead's territory (and language), picks one - the least recently assigned, or the one with
# the fewest open leads when the service says so - and returns the owner. When the service
# is down, slow (over 3 s), answers garbage, refuses the API key, or nobody is available,
# it falls back to the default owner and says why in routing_reason. It never leaves a lead
# unassigned without saying so: routing_fallback is true whenever the default owner was used.
#
# Inputs (Property to include in code):
#   territory            required, string - e.g. "EMEA", "NA-West" (the contact's territory).
#   language             optional, string - e.g. "de" (the contact's preferred language).
#   default_owner_id     optional, string - owner to use on fallback; else DEFAULT_OWNER_ID below.
#   default_owner_email  optional, string - that owner's e-mail; else DEFAULT_OWNER_EMAIL.
#
# Secrets:
#   AVAILABILITY_API_KEY  the availability service's API key (sent as a Bearer token).
#
# Outputs (Data outputs):
#   owner_id          string - HubSpot owner ID; written back to the contact's hubspot_owner_id.
#   owner_email       string - the owner's e-mail, for a "Send internal email" action.
#   routing_reason    string - why this owner, e.g. "least recently assigned of 3 available
#                     reps for EMEA/de" or "fallback: availability service timed out after 3 s".
#   routing_fallback  bool   - the branch "Routed to fallback?" checks "routing_fallback is
#                     true" and creates a task for the sales manager to re-assign the lead.

import os
from datetime import datetime, timezone

import requests

AVAILABILITY_URL = "https://availability.example.com/v1/reps/available"
TIMEOUT_SECONDS = 3

# Fill these in, or pass default_owner_id / default_owner_email as inputs.
DEFAULT_OWNER_ID = ""
DEFAULT_OWNER_EMAIL = ""

STRATEGIES = ("least_recently_assigned", "fewest_open_leads")


class Unavailable(Exception):
    """The availability service could not give a usable answer; the message says why."""


def main(event):
    inputs = event.get("inputFields") or {}
    territory = text(inputs.get("territory"))
    language = text(inputs.get("language")).lower()
    if not territory:
        raise ValueError(
            "input field 'territory' is empty: add the lead's territory property under "
            "'Property to include in code' (and make sure the lead has one)"
        )
    where = territory + ("/" + language if language else "")

    try:
        reps, strategy = fetch_available_reps(territory, language)
        if not reps:
            raise Unavailable("no rep is available for " + where)
        rep = pick(reps, strategy)
    except Unavailable as problem:
        return fallback(inputs, str(problem))

    if strategy == "fewest_open_leads":
        why = "fewest open leads ({}) of {} available reps for {}".format(
            rep["open_leads"], len(reps), where
        )
    else:
        why = "least recently assigned of {} available reps for {}".format(len(reps), where)
    print("routed to", rep["owner_id"], "-", why)
    return {
        "outputFields": {
            "owner_id": rep["owner_id"],
            "owner_email": rep["email"],
            "routing_reason": why,
            "routing_fallback": False,
        }
    }


def fetch_available_reps(territory, language):
    """The available reps as dicts, and the strategy the service asks for."""
    api_key = os.getenv("AVAILABILITY_API_KEY")
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = "Bearer {}".format(api_key)
    else:
        print("warning: the AVAILABILITY_API_KEY secret is not granted to this action")
    params = {"territory": territory}
    if language:
        params["language"] = language
    try:
        response = requests.get(
            AVAILABILITY_URL, params=params, headers=headers, timeout=TIMEOUT_SECONDS
        )
    except requests.exceptions.Timeout:
        raise Unavailable(
            "availability service timed out after {} s".format(TIMEOUT_SECONDS)
        ) from None
    except requests.exceptions.ConnectionError:
        raise Unavailable("availability service unreachable (connection failed)") from None
    except requests.exceptions.RequestException as exc:
        raise Unavailable("availability service request failed ({})".format(exc)) from None

    if response.status_code in (401, 403):
        raise Unavailable(
            "availability service refused the API key (HTTP {}): check the "
            "AVAILABILITY_API_KEY secret".format(response.status_code)
        )
    if response.status_code != 200:
        raise Unavailable("availability service answered HTTP {}".format(response.status_code))
    try:
        body = response.json()
    except ValueError:
        raise Unavailable("availability service answered something that is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("reps"), list):
        raise Unavailable("availability service answered JSON without a 'reps' list")

    strategy = body.get("strategy") or "least_recently_assigned"
    if strategy not in STRATEGIES:
        print("unknown strategy", repr(strategy), "- using least_recently_assigned")
        strategy = "least_recently_assigned"

    reps = []
    skipped = 0
    for item in body["reps"]:
        rep = parse_rep(item)
        if rep is None:
            skipped += 1
        elif rep["available"]:
            reps.append(rep)
    if skipped:
        print("skipped", skipped, "malformed rep entries")
    if skipped and not reps:
        raise Unavailable("availability service answered reps without owner IDs or e-mails")
    return reps, strategy


def parse_rep(item):
    """One rep entry as {owner_id, email, available, open_leads, last_assigned}, or None."""
    if not isinstance(item, dict):
        return None
    owner_id = text(item.get("ownerId"))
    email = text(item.get("email"))
    if not owner_id.isdigit() or "@" not in email:
        return None
    open_leads = item.get("openLeads")
    if not isinstance(open_leads, int) or isinstance(open_leads, bool):
        open_leads = 0
    return {
        "owner_id": owner_id,
        "email": email,
        "available": item.get("available", True) is True,
        "open_leads": open_leads,
        "last_assigned": parse_time(item.get("lastAssignedAt")),
    }


def pick(reps, strategy):
    """The rep the strategy prefers; ties go to the lower owner ID, so the pick is stable."""
    if strategy == "fewest_open_leads":
        return min(reps, key=by_open_leads)
    return min(reps, key=by_last_assigned)


def by_open_leads(rep):
    return (rep["open_leads"], rep["last_assigned"], int(rep["owner_id"]))


def by_last_assigned(rep):
    return (rep["last_assigned"], rep["open_leads"], int(rep["owner_id"]))


def parse_time(value):
    """An ISO-8601 time as an aware datetime; never assigned (or unreadable) sorts first."""
    never = datetime(1970, 1, 1, tzinfo=timezone.utc)
    if not isinstance(value, str) or not value:
        return never
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return never
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def fallback(inputs, problem):
    owner_id = text(inputs.get("default_owner_id")) or DEFAULT_OWNER_ID
    owner_email = text(inputs.get("default_owner_email")) or DEFAULT_OWNER_EMAIL
    if not owner_id:
        raise RuntimeError(
            "could not route the lead ({}) and no default owner is configured: pass "
            "default_owner_id as an input field or set DEFAULT_OWNER_ID in the code".format(problem)
        )
    reason = "fallback: " + problem
    print("routed to default owner", owner_id, "-", reason)
    return {
        "outputFields": {
            "owner_id": owner_id,
            "owner_email": owner_email,
            "routing_reason": reason,
            "routing_fallback": True,
        }
    }


def text(value):
    return "" if value is None else str(value).strip()
