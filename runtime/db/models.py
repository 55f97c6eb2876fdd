"""The ORM models: API tokens, snippets with immutable versions, executions, secrets, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, foreign, mapped_column, relationship


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY_EXCEEDED = "memory_exceeded"
    CRASHED = "crashed"
    OUTPUT_INVALID = "output_invalid"
    # The attempt was answered 429 (snippet hit a CRM rate limit) or 503 (overload): not final.
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        """True once the recorded result is what every repeat of the call gets back."""
        return self not in _NOT_FINAL

    @property
    def is_retryable(self) -> bool:
        """True when a repeated call runs the snippet again as a further attempt."""
        return self in (ExecutionStatus.RATE_LIMITED, ExecutionStatus.REJECTED)


_NOT_FINAL = frozenset(
    {
        ExecutionStatus.PENDING,
        ExecutionStatus.RUNNING,
        ExecutionStatus.RATE_LIMITED,
        ExecutionStatus.REJECTED,
    }
)


class DeliveryStatus(StrEnum):
    """What is left to send to HubSpot (write-back, callback) after a final run."""

    PENDING = "pending"
    DELIVERED = "delivered"
    CALLBACK_FAILED = "callback_failed"
    WRITEBACK_FAILED = "writeback_failed"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite has no time zones, returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"datetimes stored must be time-zone aware, got {value!r}")
        value = value.astimezone(UTC)
        # SQLite stores text; one fixed form (naive UTC) keeps comparisons and ordering right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StatusType(TypeDecorator[ExecutionStatus]):
    """An `ExecutionStatus` stored as its `.value`; no CHECK, so new statuses need no migration."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else ExecutionStatus(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> ExecutionStatus | None:
        return None if value is None else ExecutionStatus(value)


_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[dict[str, Any]]: JSON(),
        str: String(255),
    }


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Snippet(Base):
    """A named snippet; its code and settings live in immutable versions."""

    __tablename__ = "snippets"
    __table_args__ = (
        # A deleted snippet keeps its row (and history); its name is free for a new snippet.
        Index(
            "uq_snippets_name_live",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    hook_token: Mapped[str] = mapped_column(String(64))
    current_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]

    current: Mapped[SnippetVersion] = relationship(
        primaryjoin=lambda: and_(
            foreign(SnippetVersion.snippet_id) == Snippet.id,
            foreign(SnippetVersion.number) == Snippet.current_version,
        ),
        viewonly=True,
        lazy="selectin",
        uselist=False,
    )


class SnippetVersion(Base):
    """One immutable version: code, settings (the API's JSON shape) and their hash."""

    __tablename__ = "snippet_versions"

    snippet_id: Mapped[int] = mapped_column(ForeignKey("snippets.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    # sha256 hex of the canonical JSON of {"code", "settings"}.
    content_hash: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    # Set when a rollback made this version as a copy of an earlier one.
    rolled_back_from: Mapped[int | None]


class Execution(Base):
    """One run of a snippet version for one record, with every attempt it took."""

    __tablename__ = "executions"
    __table_args__ = (
        # Two concurrent hook calls with the same callbackId cannot both insert.
        UniqueConstraint("snippet_id", "idempotency_key"),
        Index("ix_executions_created_at_id", "created_at", "id"),
        Index("ix_executions_snippet_name_created_at", "snippet_name", "created_at"),
        Index("ix_executions_status_created_at", "status", "created_at"),
        Index("ix_executions_object_id_created_at", "object_id", "created_at"),
        Index("ix_executions_delivery", "delivery"),
    )

    # Time-ordered (ULID form), so ids sort roughly by creation.
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    snippet_id: Mapped[int] = mapped_column(ForeignKey("snippets.id"))
    snippet_name: Mapped[str] = mapped_column(String(63))
    version: Mapped[int]
    status: Mapped[ExecutionStatus] = mapped_column(StatusType())
    hs_execution_state: Mapped[str | None] = mapped_column(String(32))
    callback_id: Mapped[str | None]
    # The callbackId when there is one, else the Idempotency-Key header.
    idempotency_key: Mapped[str | None]
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    portal_id: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[dict[str, Any] | None]
    output_fields: Mapped[dict[str, Any] | None]
    logs: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[dict[str, Any] | None]
    duration_ms: Mapped[float | None] = mapped_column(Float)
    cpu_ms: Mapped[float | None] = mapped_column(Float)
    memory_kb: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=1)
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    # Room for the queue/CRM issues: write-back and HubSpot callback delivery state.
    writeback: Mapped[dict[str, Any] | None]
    callback: Mapped[dict[str, Any] | None]
    # A DeliveryStatus value; None when there is nothing to deliver.
    delivery: Mapped[str | None] = mapped_column(String(32))
    # Queue work: when the next run or delivery pass is due, and until when a worker holds it.
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Secret(Base):
    """One secret, encrypted (AES-GCM); the name is case-sensitive, as HubSpot's are."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    # The fingerprint of the master key it is encrypted under (runtime/secrets/keys.py).
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class AuditEntry(Base):
    """One admin or editor action; append-only (the migration adds triggers refusing changes)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_target", "target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None]
    details: Mapped[dict[str, Any] | None]
