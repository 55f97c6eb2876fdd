"""What a finished run leaves to do: the CRM write-back and the HubSpot callback, as stored."""

from __future__ import annotations

from typing import Any

from runtime.db import Execution
from runtime.hooks.response import hook_response
from runtime.hooks.run import would_write
from sandbox import ErrorInfo, ExecutionResult
from sandbox import ExecutionStatus as RunStatus


def recorded_result(execution: Execution) -> ExecutionResult:
    """The final result recorded on an execution, as a repeated hook call answers it."""
    error = execution.error
    return ExecutionResult(
        status=RunStatus(execution.status.value),
        output_fields=execution.output_fields,
        error=ErrorInfo(**error) if error else None,
    )


def writeback_for(
    version_settings: dict[str, Any], event: dict[str, Any], result: ExecutionResult
) -> dict[str, Any] | None:
    """The pending write-back of a successful run under the snippet's writeBack mapping."""
    write = would_write(version_settings, event, result)
    if write is None or write.get("objectId") is None or not write.get("objectType"):
        return None
    secret = (version_settings.get("writeBack") or {}).get("tokenSecret")
    return {"state": "pending", **write, "tokenSecret": secret, "attempts": []}


def callback_for(
    version_settings: dict[str, Any], execution: Execution, result: ExecutionResult
) -> dict[str, Any] | None:
    """The pending completion of the HubSpot callback an async run's workflow is blocked on."""
    if not execution.callback_id or version_settings.get("mode") != "async":
        return None  # a sync call had its answer in the HTTP response
    if execution.callback and execution.callback.get("state") == "completed":
        return None  # an operator's re-run: HubSpot accepts one completion only
    outputs = hook_response(result).body.get("outputFields", {})
    secret = (version_settings.get("writeBack") or {}).get("tokenSecret")
    return {
        "state": "pending",
        "callbackId": execution.callback_id,
        "outputFields": outputs,
        "tokenSecret": secret,
        "attempts": [],
    }
