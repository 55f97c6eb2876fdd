"""Prometheus metrics (prometheus-client), served at `/metrics`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EXECUTIONS = Counter(
    "codehook_executions_total",
    "Snippet execution attempts by snippet and outcome (rejected: answered 503, not run).",
    ["snippet", "status"],
    registry=REGISTRY,
)
EXECUTION_SECONDS = Histogram(
    "codehook_execution_duration_seconds",
    "Wall time of the snippet's own run.",
    ["snippet"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60),
    registry=REGISTRY,
)
EXECUTOR_BUSY = Gauge(
    "codehook_executor_busy_slots", "Sandbox slots in use right now.", registry=REGISTRY
)
EXECUTOR_SLOTS = Gauge("codehook_executor_slots", "Sandbox slots in total.", registry=REGISTRY)
HOOKS_IN_FLIGHT = Gauge(
    "codehook_hooks_in_flight", "Hook calls admitted and not yet answered.", registry=REGISTRY
)
HOOK_REJECTED = Counter(
    "codehook_hook_overload_rejections_total",
    "Hook calls answered 503 because the service was saturated.",
    registry=REGISTRY,
)
HTTP_RESPONSES = Counter(
    "codehook_http_responses_total",
    "HTTP responses by route and status code.",
    ["route", "status"],
    registry=REGISTRY,
)
