"""Async snippets: store the execution, queue it, then answer BLOCK (or 202 without a callbackId)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from runtime.db import Execution, ExecutionStatus, Snippet
from runtime.db import executions as records
from runtime.hooks.payload import HookEvent
from runtime.hooks.record import recorded_result
from runtime.hooks.response import HookResponse, block_response, hook_response
from runtime.metrics import EXECUTIONS, HOOK_REJECTED
from runtime.queue import QueueUnavailable, Task
from sandbox import Redactor

if TYPE_CHECKING:
    from runtime.api.deps import AppState

DEFAULT_EXPIRATION = "P1D"


def accept_async(
    state: AppState,
    session: Session,
    *,
    snippet: Snippet,
    version: int,
    version_settings: dict[str, Any],
    hook: HookEvent,
    idempotency_key: str | None,
    redactor: Redactor,
    base_url: str,
) -> HookResponse:
    """The execution is stored (pending) and queued before HubSpot hears BLOCK."""
    execution, is_new = records.claim_execution(
        session,
        snippet=snippet,
        version=version,
        callback_id=hook.callback_id,
        idempotency_key=idempotency_key,
        object_type=hook.object_type,
        object_id=hook.object_id,
        portal_id=hook.portal_id,
        event=redactor.value(hook.event),
        status=ExecutionStatus.PENDING,
    )
    if not is_new:
        if execution.status.is_final:
            return hook_response(recorded_result(execution))
        if not execution.status.is_retryable:
            return _accepted(execution, version_settings, base_url)  # queued or running
        # The last attempt could not be queued (503): HubSpot's retry queues it now.
        execution, claimed = records.start_new_attempt(
            session, execution=execution, version=version, status=ExecutionStatus.PENDING
        )
        if not claimed:
            return _accepted(execution, version_settings, base_url)
    try:
        assert state.queue is not None, "the app runs with a queue"
        state.queue.enqueue(Task("run", execution.id, execution.attempts))
    except QueueUnavailable as exc:
        records.finish_execution(
            session,
            execution=execution,
            status=ExecutionStatus.REJECTED,
            error={
                "type": "QueueUnavailable",
                "message": str(exc),
                "line": None,
                "traceback": None,
            },
        )
        EXECUTIONS.labels(execution.snippet_name, ExecutionStatus.REJECTED.value).inc()
        HOOK_REJECTED.inc()
        seconds = max(1, round(exc.retry_after))
        message = f"the queue is unavailable; retry after {seconds} s"
        body = {"error": {"code": "queue_unavailable", "message": message}}
        return HookResponse(503, body, {"Retry-After": str(seconds)})
    return _accepted(execution, version_settings, base_url)


def _accepted(execution: Execution, settings: dict[str, Any], base_url: str) -> HookResponse:
    if execution.callback_id:
        return block_response(settings.get("expirationDuration") or DEFAULT_EXPIRATION)
    status_url = f"{base_url.rstrip('/')}/v1/executions/{execution.id}"
    return HookResponse(202, {"executionId": execution.id, "statusUrl": status_url}, {})
