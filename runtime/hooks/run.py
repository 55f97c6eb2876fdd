"""Running one published version for one event: limits, egress, inputs, and the CRM write."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from runtime.config import Settings
from runtime.db import SnippetVersion
from runtime.secrets import granted
from sandbox import ErrorInfo, ExecutionResult, ExecutionStatus

if TYPE_CHECKING:
    from runtime.api.deps import AppState


def egress_for(settings: Settings, version_settings: dict[str, Any]) -> dict[str, Any]:
    """The snippet's HTTP egress policy, as the sandbox child's hooks read it."""
    return {
        "allowed_hosts": version_settings.get("allowedHosts"),
        "overrides": dict(settings.egress_overrides),
        "max_requests": settings.egress_max_requests,
        "max_response_bytes": settings.egress_max_response_bytes,
        "request_timeout_seconds": settings.egress_request_timeout_seconds,
    }


def missing_inputs(
    version_settings: dict[str, Any], event: dict[str, Any]
) -> ExecutionResult | None:
    """An error result when a required input field is absent or empty, before running anything."""
    given = event.get("inputFields") or {}
    missing = [
        field["name"]
        for field in version_settings.get("inputFields") or []
        if field.get("required") and given.get(field["name"]) in (None, "")
    ]
    if not missing:
        return None
    names = ", ".join(repr(name) for name in missing)
    return ExecutionResult(
        status=ExecutionStatus.ERROR,
        error=ErrorInfo(
            "MissingInput", f"required input field(s) {names} missing from inputFields"
        ),
    )


def execute(
    state: AppState,
    version: SnippetVersion,
    event: dict[str, Any],
    *,
    secrets: dict[str, str],
    wait_seconds: float | None = None,
) -> ExecutionResult:
    """Run the version's code in the sandbox; ExecutorBusy when no slot frees up in time.

    `wait_seconds` bounds the wait for a sandbox slot (default: the server's setting).
    """
    early = missing_inputs(version.settings, event)
    if early is not None:
        return early
    result = state.executor.run(
        version.code,
        event,
        secrets=secrets,
        limits=state.limits_for(version.settings),
        output_types=version.settings.get("outputFields") or None,
        egress=egress_for(state.settings, version.settings),
        wait_seconds=state.settings.executor_wait_seconds if wait_seconds is None else wait_seconds,
    )
    return _encodable_error(result)


def _encodable_error(result: ExecutionResult) -> ExecutionResult:
    """The result with error text UTF-8 can carry (an exception message may hold lone surrogates)."""
    error = result.error
    if error is None:
        return result
    safe = ErrorInfo(
        type=_utf8(error.type),
        message=_utf8(error.message),
        line=error.line,
        traceback=None if error.traceback is None else _utf8(error.traceback),
    )
    return dataclasses.replace(result, error=safe)


def _utf8(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def would_write(
    version_settings: dict[str, Any], event: dict[str, Any], result: ExecutionResult
) -> dict[str, Any] | None:
    """The CRM update a successful run leads to under the snippet's writeBack mapping."""
    mapping = version_settings.get("writeBack") or {}
    properties = mapping.get("properties") or {}
    if not properties or result.status is not ExecutionStatus.SUCCESS:
        return None
    outputs = result.output_fields or {}
    record = event.get("object") or {}
    values = {crm: outputs[field] for field, crm in properties.items() if field in outputs}
    if not values:
        return None
    return {
        "objectType": mapping.get("objectType") or record.get("objectType"),
        "objectId": record.get("objectId"),
        "properties": values,
    }


def dry_run(
    state: AppState, name: str, version: SnippetVersion, event: dict[str, Any]
) -> dict[str, Any]:
    """What `POST /v1/snippets/{name}/test` answers: the run, and the write it would make."""
    with state.sessions() as session:
        secrets = granted(session, version.settings.get("secrets") or [], state.keyring)
    result = execute(state, version, event, secrets=secrets)
    record = event.get("object") or {}
    return {
        "id": None,
        "snippet": name,
        "version": version.number,
        "status": result.status.value,
        "callbackId": event.get("callbackId"),
        "objectType": record.get("objectType"),
        "objectId": record.get("objectId"),
        "outputFields": result.output_fields,
        "logs": result.logs,
        "error": result.error.to_dict() if result.error else None,
        "durationMs": round(result.duration_ms, 3),
        "cpuMs": round(result.cpu_ms, 3),
        "memoryKb": result.memory_kb,
        "attempts": 1,
        "rateLimited": result.rate_limited,
        "wouldWrite": would_write(version.settings, event, result),
    }
