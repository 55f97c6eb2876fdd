"""What one execution produced: status, outputs, logs, error, and what it cost."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ExecutionStatus(StrEnum):
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY_EXCEEDED = "memory_exceeded"
    CRASHED = "crashed"
    OUTPUT_INVALID = "output_invalid"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An execution error; `line` and `traceback` refer to the user's own source."""

    type: str
    message: str
    line: int | None = None
    traceback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    status: ExecutionStatus
    output_fields: dict[str, Any] | None = None
    logs: str = ""
    error: ErrorInfo | None = None
    duration_ms: float = 0.0
    cpu_ms: float = 0.0
    memory_kb: int = 0
    # True when the snippet raised a CRM rate-limit error (HubSpot 429) the caller should retry.
    rate_limited: bool = False
    retry_after_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is ExecutionStatus.SUCCESS

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass(frozen=True, slots=True)
class CompileIssue:
    """One problem found when compiling a snippet; positions are 1-based lines, 0-based columns."""

    message: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
