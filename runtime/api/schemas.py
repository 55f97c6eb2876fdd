"""Request bodies (validated at the edge) and the JSON views the API answers with."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from runtime.db import Execution, Snippet, SnippetVersion
from runtime.hooks.response import block_response
from sandbox.outputs import parse_output_fields

SNIPPET_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,100}$")]
_HOST = re.compile(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)
MAX_CODE_BYTES = 256 * 1024
# Version numbers are 32-bit integers in the database.
MAX_VERSION = 2**31 - 1


# A new snippet's settings where its body sets none.
DEFAULT_SETTINGS: dict[str, Any] = {
    "inputFields": [],
    "outputFields": {},
    "secrets": [],
    "timeoutSeconds": None,
    "memoryMb": None,
    "allowedHosts": None,
    "mode": "sync",
    "writeBack": None,
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class InputField(_Body):
    name: FieldName
    required: bool = False


class WriteBack(_Body):
    """Which output fields are written to which CRM properties of the enrolled record."""

    properties: dict[FieldName, Annotated[str, StringConstraints(min_length=1, max_length=100)]]
    objectType: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    # A secret holding the HubSpot token for this snippet's CRM writes and callbacks.
    tokenSecret: SecretName | None = None


class SnippetSettings(_Body):
    """Everything about a snippet except its name and code; all optional on update."""

    inputFields: list[FieldName | InputField] | None = None
    outputFields: dict[str, Any] | None = None
    secrets: list[SecretName] | None = None
    timeoutSeconds: float | None = Field(default=None, gt=0)
    memoryMb: int | None = Field(default=None, ge=8)
    allowedHosts: list[str] | None = None
    mode: Literal["sync", "async"] | None = None
    writeBack: WriteBack | None = None
    # How long HubSpot holds the workflow for an async snippet's callback (ISO 8601).
    expirationDuration: Annotated[str, StringConstraints(max_length=32)] | None = None

    @field_validator("outputFields")
    @classmethod
    def _output_types(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        parse_output_fields(value)  # raises ValueError quoting the bad declaration
        return value

    @field_validator("expirationDuration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            block_response(value)  # raises ValueError quoting the value
        return value

    @field_validator("allowedHosts")
    @classmethod
    def _hosts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        hosts = [host.strip().lower() for host in value]
        for host in hosts:
            if not _HOST.match(host):
                raise ValueError(
                    f"allowedHosts entries are host names like api.example.com, got {host!r}"
                )
        return hosts

    @field_validator("secrets")
    @classmethod
    def _unique_secrets(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted(set(value))


class SnippetCreate(SnippetSettings):
    name: Annotated[str, StringConstraints(pattern=SNIPPET_NAME)]
    code: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE_BYTES)]


class SnippetUpdate(SnippetSettings):
    code: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE_BYTES)] | None = None


class Rollback(_Body):
    version: int = Field(ge=1, le=MAX_VERSION)


class TestRun(_Body):
    event: dict[str, Any] = Field(default_factory=dict)


def normalize_settings(body: SnippetSettings, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored settings: `base` (the current version's) overlaid with what `body` sets."""
    settings: dict[str, Any] = dict(base or DEFAULT_SETTINGS)
    for key in body.model_fields_set - {"name", "code"}:
        value = getattr(body, key)
        if key == "inputFields" and value is not None:
            value = [
                {"name": f, "required": False} if isinstance(f, str) else f.model_dump()
                for f in value
            ]
        elif key == "writeBack" and value is not None:
            value = value.model_dump(exclude_none=True)
        settings[key] = value
    return settings


def snippet_view(snippet: Snippet, *, hook_url: str, show_token: bool) -> dict[str, Any]:
    current = snippet.current
    view: dict[str, Any] = {
        "name": snippet.name,
        "version": current.number,
        "contentHash": current.content_hash,
        "code": current.code,
        **current.settings,
        "hookUrl": hook_url,
        "createdAt": snippet.created_at.isoformat(),
        "updatedAt": snippet.updated_at.isoformat(),
    }
    if show_token:
        view["hookToken"] = snippet.hook_token
    return view


def version_view(version: SnippetVersion) -> dict[str, Any]:
    return {
        "version": version.number,
        "contentHash": version.content_hash,
        "createdAt": version.created_at.isoformat(),
        "createdBy": version.created_by,
        "rolledBackFrom": version.rolled_back_from,
        "code": version.code,
        "settings": version.settings,
    }


def execution_view(execution: Execution, *, full: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": execution.id,
        "snippet": execution.snippet_name,
        "version": execution.version,
        "status": execution.status.value,
        "hsExecutionState": execution.hs_execution_state,
        "callbackId": execution.callback_id,
        "objectType": execution.object_type,
        "objectId": execution.object_id,
        "portalId": execution.portal_id,
        "outputFields": execution.output_fields,
        "error": execution.error,
        "durationMs": execution.duration_ms,
        "cpuMs": execution.cpu_ms,
        "memoryKb": execution.memory_kb,
        "attempts": execution.attempts,
        "createdAt": execution.created_at.isoformat(),
        "startedAt": execution.started_at.isoformat() if execution.started_at else None,
        "finishedAt": execution.finished_at.isoformat() if execution.finished_at else None,
        "writeBack": execution.writeback,
        "callback": execution.callback,
        "delivery": execution.delivery,
        "nextAttemptAt": execution.next_attempt_at.isoformat()
        if execution.next_attempt_at
        else None,
    }
    if full:
        view["event"] = execution.event
        view["logs"] = execution.logs
        view["attemptLog"] = execution.attempt_log
    return view
