"""What a finished run leaves to do: the CRM write-back and the HubSpot callback, as stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from runtime.db import Execution, ExecutionStatus
from runtime.db import executions as records
from runtime.hooks.response import HookResponse, hook_response
from runtime.hooks.run import would_write
from runtime.metrics import EXECUTION_SECONDS, EXECUTIONS
from sandbox import ErrorInfo, ExecutionResult
from sandbox import ExecutionStatus as RunStatus


def finish(
    session: Session,
    execution: Execution,
    result: ExecutionResult,
    response: HookResponse,
    *,
    writeback: dict[str, Any] | None = None,
    callback: dict[str, Any] | None = None,
) -> Execution:
    """Record a run's outcome (final, or rate-limited) and count it in the metrics."""
    status = (
        ExecutionStatus.RATE_LIMITED
        if result.rate_limited
        else ExecutionStatus(result.status.value)
    )
    finished = records.finish_execution(
        session,
        execution=execution,
        status=status,
        hs_execution_state=response.body.get("outputFields", {}).get("hs_execution_state"),
        output_fields=result.output_fields,
        # A snippet may print NUL, which PostgreSQL text cannot hold.
        logs=result.logs.replace("\x00", "\ufffd"),
        error=result.error.to_dict() if result.error else None,
        duration_ms=result.duration_ms,
        cpu_ms=result.cpu_ms,
        memory_kb=result.memory_kb,
        writeback=writeback,
        callback=callback,
    )
    EXECUTIONS.labels(execution.snippet_name, status.value).inc()
    EXECUTION_SECONDS.labels(execution.snippet_name).observe(result.duration_ms / 1000)
    return finished


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
