"""The webhook response for an execution: outputs, a failure to branch on, or back-off."""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

from sandbox.result import ExecutionResult, ExecutionStatus

__all__ = [
    "DEFAULT_RETRY_AFTER_SECONDS",
    "ERROR_CODES",
    "HookResponse",
    "block_response",
    "hook_response",
    "overloaded_response",
]

# HubSpot's API burst limits are per 10-second window; wait one window when the snippet's
# rate-limit error did not say how long.
DEFAULT_RETRY_AFTER_SECONDS = 10
_MAX_ERROR_MESSAGE = 2000

ERROR_CODES = {
    ExecutionStatus.ERROR: "SNIPPET_ERROR",
    ExecutionStatus.TIMEOUT: "TIMEOUT",
    ExecutionStatus.MEMORY_EXCEEDED: "MEMORY_LIMIT",
    ExecutionStatus.CRASHED: "CRASHED",
    ExecutionStatus.OUTPUT_INVALID: "OUTPUT_INVALID",
}
_FALLBACK_MESSAGES = {
    ExecutionStatus.ERROR: "the snippet raised an error",
    ExecutionStatus.TIMEOUT: "the snippet ran past its time limit",
    ExecutionStatus.MEMORY_EXCEEDED: "the snippet went over its memory limit",
    ExecutionStatus.CRASHED: "the snippet's process crashed",
    ExecutionStatus.OUTPUT_INVALID: "the snippet returned invalid output",
}
_ISO_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")


class HookResponse(NamedTuple):
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def hook_response(result: ExecutionResult) -> HookResponse:
    """The response for a finished execution, in the shape HubSpot workflows branch on."""
    if result.rate_limited:
        seconds = _retry_after(result.retry_after_seconds)
        cause = f" ({_describe(result)})" if result.error else ""
        message = f"the snippet hit a CRM rate limit{cause}; retry after {seconds} s"
        return _error(429, "rate_limited", message, seconds)
    if result.status is ExecutionStatus.SUCCESS:
        outputs = {**(result.output_fields or {}), "hs_execution_state": "SUCCESS"}
        return HookResponse(200, {"outputFields": outputs}, {})
    outputs = {
        "hs_execution_state": "FAIL_CONTINUE",
        "errorCode": ERROR_CODES[result.status],
        "errorMessage": _describe(result),
    }
    return HookResponse(200, {"outputFields": outputs}, {})


def block_response(expiration: str = "P1D") -> HookResponse:
    """Hold the workflow until its callback is completed or `expiration` passes."""
    if not _ISO_DURATION.fullmatch(expiration):
        raise ValueError(f"expiration must be an ISO 8601 duration like 'P1D', got {expiration!r}")
    outputs = {"hs_execution_state": "BLOCK", "hs_expiration_duration": expiration}
    return HookResponse(200, {"outputFields": outputs}, {})


def overloaded_response(retry_after: float) -> HookResponse:
    """Back-pressure: HubSpot retries a 503 after `Retry-After` instead of losing the call."""
    seconds = _retry_after(retry_after)
    message = f"Codehook is at capacity; retry after {seconds} s"
    return _error(503, "overloaded", message, seconds)


def _describe(result: ExecutionResult) -> str:
    error = result.error
    if error is None:
        return _FALLBACK_MESSAGES.get(result.status, result.status.value)
    text = f"{error.type}: {error.message}" if error.message else error.type
    if error.line is not None:
        text += f" (line {error.line})"
    if len(text) > _MAX_ERROR_MESSAGE:
        text = text[: _MAX_ERROR_MESSAGE - 1] + "…"
    return text


def _retry_after(seconds: float | None) -> int:
    if seconds is None or not math.isfinite(seconds):
        return DEFAULT_RETRY_AFTER_SECONDS
    return max(1, math.ceil(seconds))


def _error(status: int, code: str, message: str, retry_after: int) -> HookResponse:
    body = {"error": {"code": code, "message": message}}
    return HookResponse(status, body, {"Retry-After": str(retry_after)})
