"""The webhook path, top to bottom: the one function to read to know what a hook call does."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from connectors.hubspot import SignatureError, has_signature, verify_request
from runtime.api.errors import ApiError
from runtime.db import ExecutionStatus, Snippet, SnippetNotFound
from runtime.db import executions as records
from runtime.db import snippets as store
from runtime.hooks.payload import HookEvent, parse_hook_payload
from runtime.hooks.response import HookResponse, hook_response, overloaded_response
from runtime.hooks.run import execute
from sandbox import ErrorInfo, ExecutionResult, ExecutorBusy, Redactor
from sandbox import ExecutionStatus as RunStatus

if TYPE_CHECKING:
    from runtime.api.deps import AppState

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class _Call:
    snippet_name: str
    hook: HookEvent
    idempotency_key: str | None


async def handle_hook(state: AppState, request: Request, name: str) -> HookResponse:
    """verify → parse → idempotency → load version + secrets → sandbox → record → respond."""
    body = await _read_body(request)
    with state.sessions() as session:
        snippet = store.get_snippet(session, name=name)
        if snippet is None:
            raise SnippetNotFound(name)
        _authenticate(state, request, body, snippet)
    hook = parse_hook_payload(_decode_json(request, body))
    key = hook.callback_id or request.headers.get("idempotency-key") or None
    if key is not None and len(key) > 255:
        raise ApiError(
            422, "invalid", f"Idempotency-Key must be at most 255 characters, got {len(key)}"
        )
    return await run_in_threadpool(_run, state, _Call(name, hook, key))


def _run(state: AppState, call: _Call) -> HookResponse:
    with state.sessions() as session:
        snippet = store.get_snippet(session, name=call.snippet_name)
        if snippet is None:
            raise SnippetNotFound(call.snippet_name)
        version = snippet.current
        secrets: dict[str, str] = {}  # granted secret values arrive with the secrets store
        redactor = Redactor(secrets)
        execution, is_new = records.claim_execution(
            session,
            snippet=snippet,
            version=version.number,
            callback_id=call.hook.callback_id,
            idempotency_key=call.idempotency_key,
            object_type=call.hook.object_type,
            object_id=call.hook.object_id,
            portal_id=call.hook.portal_id,
            event=redactor.value(call.hook.event),
        )
        if not is_new:
            if execution.status.is_final:
                return hook_response(_recorded_result(execution))
            if not execution.status.is_retryable:
                return _in_progress()
            execution, claimed = records.start_new_attempt(
                session, execution=execution, version=version.number
            )
            if not claimed:
                return _in_progress()
        try:
            result = execute(state, version, call.hook.event, secrets=secrets)
        except ExecutorBusy as busy:
            records.finish_execution(
                session,
                execution=execution,
                status=ExecutionStatus.REJECTED,
                error={"type": "Overloaded", "message": str(busy), "line": None, "traceback": None},
            )
            return overloaded_response(busy.retry_after)
        response = hook_response(result)
        records.finish_execution(
            session,
            execution=execution,
            status=ExecutionStatus.RATE_LIMITED
            if result.rate_limited
            else ExecutionStatus(result.status.value),
            hs_execution_state=response.body.get("outputFields", {}).get("hs_execution_state"),
            output_fields=result.output_fields,
            logs=result.logs,
            error=result.error.to_dict() if result.error else None,
            duration_ms=result.duration_ms,
            cpu_ms=result.cpu_ms,
            memory_kb=result.memory_kb,
        )
        return response


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
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "bad_json", f"the hook body is not valid JSON: {exc}") from None


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


def _recorded_result(execution: Any) -> ExecutionResult:
    error = execution.error
    return ExecutionResult(
        status=RunStatus(execution.status.value),
        output_fields=execution.output_fields,
        error=ErrorInfo(**error) if error else None,
    )


def _in_progress() -> HookResponse:
    message = "this callbackId is still being executed; retry to get its result"
    return HookResponse(
        503, {"error": {"code": "in_progress", "message": message}}, {"Retry-After": "2"}
    )
