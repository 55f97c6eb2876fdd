"""The API side of the fake HubSpot: CRM records, batches, associations and callbacks.

Handlers run under the fake's lock and answer `(status, json body)`, or raise `ApiError`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.hubspot import FakeHubSpot, RecordedRequest

OBJECT_TYPES = ("contacts", "companies", "deals", "tickets", "line_items", "products")

_TYPE_ALIASES = {
    "contact": "contacts", "0-1": "contacts",
    "company": "companies", "0-2": "companies",
    "deal": "deals", "0-3": "deals",
    "ticket": "tickets", "0-5": "tickets",
    "line_item": "line_items", "lineitem": "line_items", "0-8": "line_items",
    "product": "products", "0-7": "products",
}  # fmt: skip

# What HubSpot returns when a read names no `properties` (from the CRM objects API reference).
_DEFAULT_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email"),
    "companies": ("name", "domain"),
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage"),
    "tickets": ("content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_category",
                "hs_ticket_priority", "subject"),
    "line_items": ("name", "price", "quantity", "amount", "hs_product_id"),
    "products": ("name", "description", "price"),
}  # fmt: skip
_ALWAYS_RETURNED = ("hs_object_id", "createdate", "lastmodifieddate")

# HubSpot-defined, unlabelled association type ids for the common pairs; others answer 1.
_ASSOCIATION_TYPE_IDS = {
    ("contacts", "companies"): 279, ("companies", "contacts"): 280,
    ("deals", "contacts"): 3, ("contacts", "deals"): 4,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("contacts", "tickets"): 15, ("tickets", "contacts"): 16,
    ("deals", "line_items"): 19, ("line_items", "deals"): 20,
    ("tickets", "companies"): 339, ("companies", "tickets"): 340,
}  # fmt: skip

_ERROR_CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    409: "CONFLICT",
    429: "RATE_LIMITS",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(status, message, **extra)


def route(fake: FakeHubSpot, request: RecordedRequest) -> tuple[int, Any]:
    """Answer one request from the fake's store."""
    for method, pattern, handler in _ROUTES:
        match = pattern.fullmatch(request.path)
        if match and method == request.method:
            status, body = handler(fake, request, **match.groupdict())
            return status, body
    raise ApiError(404, f"No route for {request.method} {request.path}")


def _get_object(
    fake: FakeHubSpot, request: RecordedRequest, kind: str, object_id: str
) -> tuple[int, Any]:
    record = _find(fake, kind, object_id, _single(request.query, "idProperty"))
    return 200, _render(kind, record, _requested(request.query.get("properties")))


def _patch_object(
    fake: FakeHubSpot, request: RecordedRequest, kind: str, object_id: str
) -> tuple[int, Any]:
    record = _find(fake, kind, object_id, _single(request.query, "idProperty"))
    changes = _properties_of(request.json)
    _write(record, changes)
    return 200, _render(kind, record, list(changes))


def _create_object(fake: FakeHubSpot, request: RecordedRequest, kind: str) -> tuple[int, Any]:
    properties = _properties_of(request.json)
    object_id = fake.add_object(kind, properties)
    return 201, _render(kind, fake.objects[kind][object_id], list(properties))


def _batch_read(fake: FakeHubSpot, request: RecordedRequest, kind: str) -> tuple[int, Any]:
    payload = _object_body(request.json)
    wanted = _requested(payload.get("properties"))
    id_property = payload.get("idProperty")
    results, missing = [], []
    for item in _inputs(payload):
        try:
            record = _find(fake, kind, str(item.get("id")), id_property)
        except ApiError:
            missing.append(str(item.get("id")))
        else:
            results.append(_render(kind, record, wanted))
    return _batch(results, missing, kind)


def _batch_update(fake: FakeHubSpot, request: RecordedRequest, kind: str) -> tuple[int, Any]:
    payload = _object_body(request.json)
    results, missing = [], []
    for item in _inputs(payload):
        try:
            record = _find(fake, kind, str(item.get("id")), item.get("idProperty"))
        except ApiError:
            missing.append(str(item.get("id")))
            continue
        changes = _properties_of(item)
        _write(record, changes)
        results.append(_render(kind, record, list(changes)))
    return _batch(results, missing, kind)


def _associations_v4(
    fake: FakeHubSpot, request: RecordedRequest, kind: str, object_id: str, to_type: str
) -> tuple[int, Any]:
    to_kind = normalize_type(to_type)
    type_id = _ASSOCIATION_TYPE_IDS.get((kind, to_kind), 1)
    spec = {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
    results = [
        {"toObjectId": int(to_id), "associationTypes": [spec]}
        for to_id in fake.associations.get((kind, object_id, to_kind), [])
    ]
    return 200, {"results": results}


def _associations_v3(
    fake: FakeHubSpot, request: RecordedRequest, kind: str, object_id: str, to_type: str
) -> tuple[int, Any]:
    to_kind = normalize_type(to_type)
    label = f"{kind.removesuffix('s')}_to_{to_kind.removesuffix('s')}"
    label = label.replace("companie", "company")
    results = [
        {"id": to_id, "type": label}
        for to_id in fake.associations.get((kind, object_id, to_kind), [])
    ]
    return 200, {"results": results}


def _complete_callback(
    fake: FakeHubSpot, request: RecordedRequest, callback_id: str
) -> tuple[int, Any]:
    fields = _object_body(request.json).get("outputFields")
    if not isinstance(fields, dict):
        raise ApiError(400, "outputFields must be an object")
    fake.completed_callbacks[callback_id] = fields
    return 204, None


def _complete_callbacks(fake: FakeHubSpot, request: RecordedRequest) -> tuple[int, Any]:
    for item in _inputs(_object_body(request.json)):
        callback_id, fields = item.get("callbackId"), item.get("outputFields")
        if not isinstance(callback_id, str) or not isinstance(fields, dict):
            raise ApiError(400, "each input needs a callbackId and outputFields")
        fake.completed_callbacks[callback_id] = fields
    return 204, None


def _find(fake: FakeHubSpot, kind: str, object_id: str, id_property: Any = None) -> dict[str, Any]:
    records = fake.objects[kind]
    if id_property:
        for record in records.values():
            if record["properties"].get(id_property) == object_id:
                return record
    elif object_id in records:
        return records[object_id]
    raise ApiError(404, "resource not found")


def _write(record: dict[str, Any], changes: Mapping[str, Any]) -> None:
    now = timestamp()
    record["properties"].update(as_strings(changes), lastmodifieddate=now)
    record["updatedAt"] = now


def _kind(handler: Any) -> Any:
    """Normalize the `kind` path parameter before calling `handler`."""

    def wrapped(fake: FakeHubSpot, request: RecordedRequest, kind: str, **params: str) -> Any:
        return handler(fake, request, normalize_type(kind), **params)

    return wrapped


_OBJ = "/crm/v3/objects/(?P<kind>[^/]+)"
_ROUTES = [
    ("POST", re.compile(_OBJ + "/batch/read"), _kind(_batch_read)),
    ("POST", re.compile(_OBJ + "/batch/update"), _kind(_batch_update)),
    ("POST", re.compile(_OBJ), _kind(_create_object)),
    ("GET", re.compile(_OBJ + "/(?P<object_id>[^/]+)"), _kind(_get_object)),
    ("PATCH", re.compile(_OBJ + "/(?P<object_id>[^/]+)"), _kind(_patch_object)),
    (
        "GET",
        re.compile(_OBJ + "/(?P<object_id>[^/]+)/associations/(?P<to_type>[^/]+)"),
        _kind(_associations_v3),
    ),
    (
        "GET",
        re.compile("/crm/v4/objects/(?P<kind>[^/]+)/(?P<object_id>[^/]+)/associations/(?P<to_type>[^/]+)"),
        _kind(_associations_v4),
    ),
    (
        "POST",
        re.compile("/automation/v4/actions/callbacks/complete"),
        _complete_callbacks,
    ),
    (
        "POST",
        re.compile("/automation/v4/actions/callbacks/(?P<callback_id>[^/]+)/complete"),
        _complete_callback,
    ),
]  # fmt: skip


def normalize_type(name: str) -> str:
    kind = _TYPE_ALIASES.get(name.lower(), name.lower())
    if kind not in OBJECT_TYPES:
        raise ApiError(400, f"Unable to infer object type from: {name}")
    return kind


def _render(kind: str, record: Mapping[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    names = list(_DEFAULT_PROPERTIES[kind]) if wanted is None else wanted
    stored = record["properties"]
    # Requested-but-unset properties come back as null; unrequested defaults only when set.
    properties = {n: stored.get(n) for n in names if wanted is not None or n in stored}
    properties.update({n: stored[n] for n in _ALWAYS_RETURNED})
    return {**record, "properties": properties}


def _requested(value: Any) -> list[str] | None:
    if not value:
        return None
    names = value if isinstance(value, list) else [value]
    return [n.strip() for item in names for n in str(item).split(",") if n.strip()]


def _batch(results: list[dict[str, Any]], missing: list[str], kind: str) -> tuple[int, Any]:
    now = timestamp()
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": now,
        "completedAt": now,
    }
    if not missing:
        return 200, body
    error = error_body(404, f"Could not get some {kind} objects, they may be deleted or not exist.")
    error["context"] = {"ids": missing}
    return 207, body | {"numErrors": 1, "errors": [error]}


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    category = _ERROR_CATEGORIES.get(status, "INTERNAL_ERROR" if status >= 500 else "UNKNOWN")
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }


def _object_body(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid input JSON: expected an object")
    return value


def _properties_of(value: Any) -> dict[str, Any]:
    properties = _object_body(value).get("properties", {})
    if not isinstance(properties, dict):
        raise ApiError(400, "properties must be an object")
    return properties


def _inputs(payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    inputs = payload.get("inputs")
    if not isinstance(inputs, list):
        raise ApiError(400, "inputs must be a list")
    for item in inputs:
        yield _object_body(item)


def _single(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def as_strings(properties: Mapping[str, Any]) -> dict[str, str | None]:
    # HubSpot stores every property value as a string.
    def text(value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return {name: text(value) for name, value in properties.items()}


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
