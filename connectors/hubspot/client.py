"""The real hubspot-api-client, pointed at a base URL, and the CRM writes Codehook makes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hubspot import HubSpot
from hubspot.crm.objects import SimplePublicObjectInput

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "api_error_status",
    "make_client",
    "object_type_path",
    "retry_after_seconds",
    "update_object",
]

# hubspot-api-client sets no timeout of its own: a stalled connection would hang forever.
DEFAULT_TIMEOUT_SECONDS = 10.0


def make_client(*, access_token: str, base_url: str) -> HubSpot:
    """A client whose every API (CRM objects, associations, automation...) calls `base_url`."""
    # Each API package builds its own Configuration from the client's config keys; `host` is a
    # Configuration property that replaces the default https://api.hubapi.com for all of them.
    return HubSpot(access_token=access_token, host=base_url.rstrip("/"))


# The objectType a workflow sends (CONTACT) -> the name the CRM objects API takes in its path.
_OBJECT_PATHS = {
    "CONTACT": "contacts",
    "COMPANY": "companies",
    "DEAL": "deals",
    "TICKET": "tickets",
    "LINE_ITEM": "line_items",
    "PRODUCT": "products",
    "QUOTE": "quotes",
}


def object_type_path(object_type: str) -> str:
    """`CONTACT` -> `contacts`; other names (`2-1234`, `p_cars`, `deals`) are used as given."""
    return _OBJECT_PATHS.get(object_type.upper(), object_type)


def update_object(
    client: HubSpot,
    object_type: str,
    object_id: str | int,
    properties: Mapping[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Any:
    """Set `properties` on one CRM record; returns the updated `SimplePublicObject`."""
    body = SimplePublicObjectInput(properties=dict(properties))
    return client.crm.objects.basic_api.update(
        object_type, str(object_id), body, _request_timeout=timeout
    )


def api_error_status(error: BaseException) -> int | None:
    """The HTTP status of a hubspot-api-client `ApiException` from any of its APIs, else None."""
    # Each API package of the client defines its own ApiException class (about sixty), so an
    # isinstance check against one of them misses the others; recognise them by name instead.
    for cls in type(error).__mro__:
        if cls.__name__ == "ApiException" and cls.__module__.startswith("hubspot."):
            status = getattr(error, "status", None)
            return status if isinstance(status, int) else None
    return None


def retry_after_seconds(error: BaseException) -> float | None:
    """The `Retry-After` seconds a HubSpot error response carried, if it was a number."""
    headers = getattr(error, "headers", None)
    value = headers.get("Retry-After") if isinstance(headers, Mapping) else None
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None  # an HTTP-date, which HubSpot does not send
    return max(seconds, 0.0) if math.isfinite(seconds) else None
