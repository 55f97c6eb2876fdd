"""Turning a hook body into the `event` a snippet's `main(event)` receives.

Two payloads are accepted. HubSpot's custom-code and custom-workflow-action call:

    {"callbackId": "ap-…", "origin": {"portalId": 1, ...}, "context": {...},
     "object": {"objectId": 4, "objectType": "CONTACT"}, "inputFields": {...}}

and the "Send a webhook" action, which posts the record itself (`inputFields` are then its
properties, with `{"value": ..., "versions": [...]}` history objects flattened).
"""

from __future__ import annotations

import copy
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.hooks.exceptions import PayloadError

__all__ = ["MAX_CALLBACK_ID_LENGTH", "HookEvent", "parse_hook_payload"]

MAX_CALLBACK_ID_LENGTH = 255
_MAX_OBJECT_ID_LENGTH = 64

# Bounded so quoting a huge bad value in a message stays cheap and short.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist = 2, 3, 3
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 40

_ACTION_KEYS = frozenset({"callbackId", "origin", "context", "object", "inputFields", "fields"})
# Legacy record APIs (what "Send a webhook" posts) name the id by object type.
_LEGACY_ID_KEYS = (("vid", "CONTACT"), ("companyId", "COMPANY"), ("dealId", "DEAL"))


@dataclass(frozen=True, slots=True)
class HookEvent:
    """The snippet's `event`, plus the facts Codehook itself needs from it."""

    event: dict[str, Any]
    callback_id: str | None
    object_type: str | None
    object_id: str | None
    portal_id: int | None


def parse_hook_payload(body: Any) -> HookEvent:
    """Parse a decoded JSON hook body; raises `PayloadError` naming the field at fault."""
    if not isinstance(body, dict):
        raise PayloadError(f"the hook body must be a JSON object, got {_quote(body)}")
    body = copy.deepcopy(body)
    if _ACTION_KEYS & body.keys() or not _looks_like_record(body):
        return _parse_action(body)
    return _parse_record(body)


def _looks_like_record(body: Mapping[str, Any]) -> bool:
    id_keys = ("objectId", "id", *(key for key, _ in _LEGACY_ID_KEYS))
    return "properties" in body or any(key in body for key in id_keys)


def _parse_action(body: dict[str, Any]) -> HookEvent:
    # Custom workflow actions send their declared fields as `fields` in some versions.
    fields = _optional_object(body, "fields") or {}
    input_fields = {**fields, **(_optional_object(body, "inputFields") or {})}
    origin = _optional_object(body, "origin") or {}
    event: dict[str, Any] = {"inputFields": input_fields, "origin": origin}

    object_type = object_id = None
    raw_object = _optional_object(body, "object")
    if raw_object is not None:
        object_id, event_id = _object_id(raw_object.get("objectId"), "object.objectId")
        object_type = _optional_string(raw_object, "objectType", "object.objectType")
        _optional_object(raw_object, "properties", "object.properties")
        event["object"] = {**raw_object, "objectId": event_id}

    context = _optional_object(body, "context")
    if context is not None:
        event["context"] = context

    callback_id = _callback_id(body.get("callbackId"))
    if callback_id is not None:
        event["callbackId"] = callback_id

    portal_id = _portal_id(origin.get("portalId"), "origin.portalId")
    return HookEvent(event, callback_id, object_type, object_id, portal_id)


def _parse_record(body: dict[str, Any]) -> HookEvent:
    properties = _flatten(_optional_object(body, "properties") or {})
    object_type = _optional_string(body, "objectType", "objectType")
    raw_id, id_field = None, "objectId"
    for key, legacy_type in (("objectId", None), ("id", None), *_LEGACY_ID_KEYS):
        if body.get(key) is not None:
            raw_id, id_field = body[key], key
            object_type = object_type or legacy_type
            break
    object_id, event_id = _object_id(raw_id, id_field)

    portal_key = "portalId" if "portalId" in body else "portal-id"
    portal_id = _portal_id(body.get(portal_key), portal_key)
    event = {
        "inputFields": dict(properties),
        "object": {"objectId": event_id, "objectType": object_type, "properties": properties},
        "origin": {} if portal_id is None else {"portalId": portal_id},
    }
    return HookEvent(event, None, object_type, object_id, portal_id)


def _flatten(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value["value"] if isinstance(value, dict) and "value" in value else value
        for name, value in properties.items()
    }


def _object_id(value: Any, field: str) -> tuple[str | None, int | str | None]:
    """The id as Codehook keeps it (text) and as the snippet sees it (an int, like HubSpot's)."""
    if value is None:
        return None, None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value), value
    if isinstance(value, str) and 0 < len(value) <= _MAX_OBJECT_ID_LENGTH and value.strip():
        return value, int(value) if value.isascii() and value.isdigit() else value
    raise PayloadError(
        f"{field} must be a non-negative integer or a non-empty string of at most "
        f"{_MAX_OBJECT_ID_LENGTH} characters, got {_quote(value)}",
        field=field,
    )


def _portal_id(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise PayloadError(f"{field} must be an integer, got {_quote(value)}", field=field)


def _callback_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and 0 < len(value) <= MAX_CALLBACK_ID_LENGTH:
        return value
    raise PayloadError(
        f"callbackId must be a non-empty string of at most {MAX_CALLBACK_ID_LENGTH} characters, "
        f"got {_quote(value)}",
        field="callbackId",
    )


def _optional_object(
    container: Mapping[str, Any], key: str, field: str | None = None
) -> dict[str, Any] | None:
    value = container.get(key)
    if value is None or isinstance(value, dict):
        return value
    field = field or key
    raise PayloadError(f"{field} must be a JSON object, got {_quote(value)}", field=field)


def _optional_string(container: Mapping[str, Any], key: str, field: str) -> str | None:
    value = container.get(key)
    if value is None or isinstance(value, str):
        return value
    raise PayloadError(f"{field} must be a string, got {_quote(value)}", field=field)


def _quote(value: Any) -> str:
    return _REPR.repr(value)
