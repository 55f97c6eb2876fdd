"""The webhook path, top to bottom: the one function to read to know what a hook call does."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from connectors.hubspot import SignatureError, has_signature, verify_request
from runtime.api.errors import ApiError
from runtime.api.strict_json import loads_strict
from runtime.db import Execution, ExecutionStatus, Snippet, SnippetNotFound
from runtime.db import executions as records
from runtime.db import snippets as store
from runtime.db.models import utcnow
from runtime.hooks.accept import accept_async
from runtime.hooks.exceptions import PayloadError
from runtime.hooks.payload import HookEvent, parse_hook_payload
from runtime.hooks.record import finish, recorded_result, writeback_for
from runtime.hooks.response import HookResponse, hook_response, overloaded_response
from runtime.hooks.run import execute
from runtime.metrics import EXECUTIONS, HOOK_REJECTED
from runtime.queue import QueueUnavailable, Task
from runtime.secrets import granted
from sandbox import ExecutorBusy, Redactor

if TYPE_CHECKING:
    from runtime.api.deps import AppState

log = logging.getLogger("codehook.hooks")

MAX_BODY_BYTES = 1024 * 1024
# A "running" attempt older than the longest possible run plus this is taken to be abandoned.
ABANDONED_AFTER_SECONDS = 60


@dataclass(frozen=True)
class _Call:
    snippet_name: str
    hook: HookEvent
    idempotency_key: str | None


async def handle_hook(state: AppState, request: Request, name: str) -> HookResponse:
    """Read the body on the event loop; everything else (database, sandbox) in the thread pool."""
    body = await _read_body(request)
    return await run_in_threadpool(_handle, state, request, body, name)


def _handle(state: AppState, request: Request, body: bytes, name: str) -> HookResponse:
    """verify → parse → idempotency → load version + secrets → sandbox → record → respond."""
    with state.sessions() as session:
        snippet = store.get_snippet(session, name=name)
        if snippet is None:
            raise SnippetNotFound(name)
        _authenticate(state, request, body, snippet)
        hook = parse_hook_payload(_decode_json(request, body))
        call = _Call(name, hook, _idempotency_key(hook, request))
        version = snippet.current
        secrets = granted(session, version.settings.get("secrets") or [], state.keyring)
        if version.settings.get("mode") == "async":
            return accept_async(
                state,
                session,
                snippet=snippet,
                version=version.number,
                version_settings=version.settings,
                hook=hook,
                idempotency_key=call.idempotency_key,
                redactor=Redactor(secrets),
                base_url=state.settings.public_url or str(request.base_url),
            )
        execution, replay = _claim(state, session, snippet, version.number, call, Redactor(secrets))
        if replay is not None:
            return replay
        try:
            result = execute(state, version, hook.event, secrets=secrets)
        except ExecutorBusy as busy:
            _record_rejected(session, execution, busy)
            return overloaded_response(busy.retry_after)
        except Exception as exc:
            # Never leave the claim "running": that would answer every retry "in progress".
            _record_rejected(session, execution, exc)
            raise
        response = hook_response(result)
        writeback = writeback_for(version.settings, hook.event, result)
        finish(session, execution, result, response, writeback=writeback)
        if writeback is not None:
            _queue_delivery(state, execution.id)
        return response


def _idempotency_key(hook: HookEvent, request: Request) -> str | None:
    _refuse_nul(hook)
    key = hook.callback_id or request.headers.get("idempotency-key") or None
    if key is not None and len(key) > 255:
        raise ApiError(
            422, "invalid", f"Idempotency-Key must be at most 255 characters, got {len(key)}"
        )
    return key


def _claim(
    state: AppState,
    session: Session,
    snippet: Snippet,
    version: int,
    call: _Call,
    redactor: Redactor,
) -> tuple[Execution, HookResponse | None]:
    """Record the call (or find it recorded); a response when it must not run again now."""
    execution, is_new = records.claim_execution(
        session,
        snippet=snippet,
        version=version,
        callback_id=call.hook.callback_id,
        idempotency_key=call.idempotency_key,
        object_type=call.hook.object_type,
        object_id=call.hook.object_id,
        portal_id=call.hook.portal_id,
        event=redactor.value(call.hook.event),
    )
    if is_new:
        return execution, None
    if execution.status.is_final:
        return execution, hook_response(recorded_result(execution))
    # The last attempt ended in 429/503, or its process died mid-run (still "running" long
    # after any run could last): HubSpot's retry is a further attempt.
    longest = timedelta(seconds=state.settings.max_timeout_seconds + ABANDONED_AFTER_SECONDS)
    execution, claimed = records.start_new_attempt(
        session, execution=execution, version=version, abandoned_before=utcnow() - longest
    )
    return execution, None if claimed else _in_progress()


def _queue_delivery(state: AppState, execution_id: str) -> None:
    """The write-back goes out on the queue; if it is down, the sweeper sends it later."""
    if state.queue is None:
        return
    try:
        state.queue.enqueue(Task("deliver", execution_id))
    except QueueUnavailable as exc:
        log.warning("write-back of %s waits for the queue: %s", execution_id, exc)


def _record_rejected(session: Session, execution: Execution, cause: Exception) -> None:
    """A 503 attempt: recorded as not final, so HubSpot's retry runs the snippet."""
    kind = "Overloaded" if isinstance(cause, ExecutorBusy) else type(cause).__name__
    records.finish_execution(
        session,
        execution=execution,
        status=ExecutionStatus.REJECTED,
        error={"type": kind, "message": str(cause), "line": None, "traceback": None},
    )
    EXECUTIONS.labels(execution.snippet_name, ExecutionStatus.REJECTED.value).inc()
    HOOK_REJECTED.inc()


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(
            413, "too_large", f"the hook body is {declared} bytes; the limit is {MAX_BODY_BYTES}"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "too_large", f"the hook body exceeds {MAX_BODY_BYTES} bytes")
    return bytes(body)


def _decode_json(request: Request, body: bytes) -> Any:
    content_type = (
        request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    )
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"hook bodies are JSON; got Content-Type {content_type!r}",
        )
    return loads_strict(body, what="the hook body")


def _refuse_nul(hook: HookEvent) -> None:
    # These are stored in text columns, and PostgreSQL text cannot hold NUL.
    for field, value in (
        ("callbackId", hook.callback_id),
        ("object.objectId", hook.object_id),
        ("object.objectType", hook.object_type),
    ):
        if value is not None and "\x00" in value:
            raise PayloadError(f"{field} must not contain NUL characters", field=field)


def _authenticate(state: AppState, request: Request, body: bytes, snippet: Snippet) -> None:
    """A HubSpot signature (v3, v2, v1) or the snippet's hook token; else 401."""
    token = request.headers.get("x-codehook-token") or request.query_params.get("token")
    if token is not None:
        if hmac.compare_digest(token.encode(), snippet.hook_token.encode()):
            return
        raise ApiError(401, "bad_token", "the hook token does not match this snippet's token")
    if has_signature(request.headers):
        secret = state.settings.hubspot_client_secret
        if secret is None:
            raise ApiError(
                401,
                "bad_signature",
                "the request is signed but CODEHOOK_HUBSPOT_CLIENT_SECRET is not set",
            )
        verify_request(
            client_secret=secret.get_secret_value(),
            method=request.method,
            uri=_public_uri(state, request),
            body=body,
            headers=request.headers,
        )
        return
    if state.settings.dev_allow_unauthenticated_hooks:
        return
    raise SignatureError(
        "hook calls need a HubSpot signature (X-HubSpot-Signature-v3) or the snippet's hook token "
        "(X-Codehook-Token header or ?token=)"
    )


def _public_uri(state: AppState, request: Request) -> str:
    if state.settings.public_url:
        query = f"?{request.url.query}" if request.url.query else ""
        return state.settings.public_url.rstrip("/") + request.url.path + query
    return str(request.url)


def _in_progress() -> HookResponse:
    message = "this callbackId is still being executed; retry to get its result"
    return HookResponse(
        503, {"error": {"code": "in_progress", "message": message}}, {"Retry-After": "2"}
    )
