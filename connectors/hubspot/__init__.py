"""HubSpot: request signatures, the API client, callbacks and CRM writes."""

from connectors.hubspot.callbacks import complete_callback, complete_callbacks
from connectors.hubspot.client import (
    api_error_status,
    make_client,
    object_type_path,
    retry_after_seconds,
    update_object,
)
from connectors.hubspot.exceptions import HubSpotError, SignatureError
from connectors.hubspot.ratelimit import TokenBucket
from connectors.hubspot.signature import has_signature, verify_request

__all__ = [
    "HubSpotError",
    "SignatureError",
    "TokenBucket",
    "api_error_status",
    "complete_callback",
    "complete_callbacks",
    "has_signature",
    "make_client",
    "object_type_path",
    "retry_after_seconds",
    "update_object",
    "verify_request",
]
