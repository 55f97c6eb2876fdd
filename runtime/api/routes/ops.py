"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from runtime.api.deps import StateDep
from runtime.metrics import EXECUTOR_BUSY, EXECUTOR_SLOTS, HOOKS_IN_FLIGHT, REGISTRY

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: StateDep) -> JSONResponse:
    """Ready when the database answers and the sandbox zygote is alive."""
    checks: dict[str, Any] = {}
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        checks["database"] = f"failing: {type(exc).__name__}"
    checks["executor"] = (
        "ok" if state.executor.healthy() else "failing: sandbox zygote is not running"
    )
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
def metrics(state: StateDep) -> Response:
    EXECUTOR_SLOTS.set(state.executor.max_concurrency)
    EXECUTOR_BUSY.set(state.executor.busy)
    HOOKS_IN_FLIGHT.set(state.in_flight)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
