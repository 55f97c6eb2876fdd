"""The webhook path: parsing HubSpot's call into a snippet event, and answering it."""

from runtime.hooks.exceptions import HookError, PayloadError
from runtime.hooks.payload import HookEvent, parse_hook_payload
from runtime.hooks.response import (
    HookResponse,
    block_response,
    hook_response,
    overloaded_response,
)

__all__ = [
    "HookError",
    "HookEvent",
    "HookResponse",
    "PayloadError",
    "block_response",
    "hook_response",
    "overloaded_response",
    "parse_hook_payload",
]
