"""The one Settings class, read once at the edge (prefix `CODEHOOK_`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

_DATABASE_FILE = "codehook.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODEHOOK_", extra="ignore")

    data_dir: Path = Path("codehook-data")
    # Defaults to a SQLite file in `data_dir`; kept out of repr because it may carry a password.
    database_url: str = Field(default="", repr=False)
    redis_url: str | None = None
    master_key: SecretStr | None = None
    hubspot_client_secret: SecretStr | None = None
    hubspot_access_token: SecretStr | None = None
    hubspot_base_url: str = "https://api.hubapi.com"
    public_url: str | None = None
    # Host a snippet calls -> trusted base URL (scheme://host:port); exempt from the
    # private-address rule.
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

    # Sandbox children running at once, and how long a hook waits for a free one before 503.
    executor_concurrency: int = Field(default=8, ge=1, le=256)
    executor_wait_seconds: float = Field(default=5.0, ge=0)
    # Hook calls admitted at once (running or waiting); more are answered 503 straight away.
    max_hooks_in_flight: int = Field(default=64, ge=1)

    # Async snippets (run on the queue) may run this long at most.
    max_async_timeout_seconds: float = Field(default=900.0, gt=0, le=86400)
    # Embedded queue (no REDIS_URL): async runs and deliveries the serve process does at once.
    embedded_concurrency: int = Field(default=2, ge=1, le=64)
    # HubSpot API budget per portal, shared by every worker when Redis is there.
    hubspot_rate_limit: int = Field(default=190, ge=1)
    hubspot_rate_window_seconds: float = Field(default=10.0, gt=0)
    # Callback and write-back retries: exponential back-off with jitter within a window.
    retry_base_seconds: float = Field(default=5.0, gt=0)
    retry_max_delay_seconds: float = Field(default=3600.0, gt=0)
    retry_window_seconds: float = Field(default=3 * 24 * 3600.0, gt=0)
    # A queued run whose worker stops renewing its lease this long is taken to be lost.
    worker_lease_seconds: float = Field(default=30.0, ge=1)
    # Runs of one execution at most (worker deaths and snippet rate limits count).
    max_run_attempts: int = Field(default=5, ge=1)
    # How often due work (retries, lost jobs, expired leases) is looked for.
    sweep_interval_seconds: float = Field(default=1.0, gt=0)

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

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.sqlite_path}"
        return self

    @property
    def sqlite_path(self) -> Path:
        """The absolute path of the default SQLite database in `data_dir`."""
        return self.data_dir.resolve() / _DATABASE_FILE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `environ` only (default: the process environment)."""
        if environ is None:
            return cls()
        # Same parsing as the process environment (case, JSON for complex fields), other source.
        options: dict[str, Any] = {"_build_sources": ((_MappingEnvSource(cls, environ),), {})}
        # Passed as **options: mypy only sees the fields in the generated __init__.
        return cls(**options)


class _MappingEnvSource(EnvSettingsSource):
    """Reads `CODEHOOK_*` variables from a given mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )
