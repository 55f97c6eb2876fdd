"""Resource limits for one execution (HubSpot parity by default)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_TIMEOUT_SECONDS = 20.0
DEFAULT_MEMORY_MB = 128
DEFAULT_LOG_BYTES = 64 * 1024
DEFAULT_OUTPUT_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits the sandbox enforces on one execution."""

    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB
    log_bytes: int = DEFAULT_LOG_BYTES
    output_bytes: int = DEFAULT_OUTPUT_BYTES

    def __post_init__(self) -> None:
        if not 0 < self.timeout_seconds <= 24 * 3600:
            raise ValueError(f"timeout_seconds must be in (0, 86400], got {self.timeout_seconds!r}")
        if not 8 <= self.memory_mb <= 64 * 1024:
            raise ValueError(f"memory_mb must be between 8 and 65536, got {self.memory_mb!r}")
        if self.log_bytes < 1024:
            raise ValueError(f"log_bytes must be at least 1024, got {self.log_bytes!r}")
        if self.output_bytes < 1024:
            raise ValueError(f"output_bytes must be at least 1024, got {self.output_bytes!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
