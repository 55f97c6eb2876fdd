"""The one Settings class, read once at the edge (prefix `CODEHOOK_`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODEHOOK_", extra="ignore")

    data_dir: Path = Path("codehook-data")
    database_url: str | None = None
    redis_url: str | None = None
    master_key: SecretStr | None = None
    hubspot_client_secret: SecretStr | None = None
    hubspot_access_token: SecretStr | None = None
    hubspot_base_url: str = "https://api.hubapi.com"
    public_url: str | None = None
    # Host a snippet calls -> trusted base URL (scheme://host:port); exempt from the private-address rule.
    egress_overrides: dict[str, str] = Field(default_factory=dict)

    # Caps on per-snippet limits, and the defaults a snippet gets when it sets none.
    default_timeout_seconds: float = 20.0
    max_timeout_seconds: float = 60.0
    default_memory_mb: int = 128
    max_memory_mb: int = 512
    log_bytes: int = 64 * 1024
    output_bytes: int = 256 * 1024
    egress_max_requests: int = 50
    egress_max_response_bytes: int = 10 * 1024 * 1024
    egress_request_timeout_seconds: float = 10.0

    execution_retention_days: int = 30
    # Accept unauthenticated hook calls; for local development only.
    dev_allow_unauthenticated_hooks: bool = False

    @field_validator("egress_overrides", mode="before")
    @classmethod
    def _parse_overrides(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if not isinstance(value, Mapping):
            raise ValueError(f"EGRESS_OVERRIDES must be a JSON object, got {value!r}")
        for host, base in value.items():
            if not isinstance(base, str) or "://" not in base:
                raise ValueError(
                    f"EGRESS_OVERRIDES[{host!r}] must be a base URL like http://127.0.0.1:8081, "
                    f"got {base!r}"
                )
        return dict(value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `environ` (default: the process environment)."""
        if environ is None:
            return cls()
        prefix = "CODEHOOK_"
        values = {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}
        return cls.model_validate(values)
