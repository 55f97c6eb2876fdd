"""Liveness, readiness, Prometheus metrics and request ids."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from runtime.auth import Role
from tests.runtime.live import LiveServer, action_payload, free_port

ROOT = Path(__file__).resolve().parents[2]


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_healthz_answers_ok(shared_server: LiveServer) -> None:
    """GET /healthz answers 200 {"status": "ok"}."""
    response = shared_server.client(None).get("/healthz")

    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_and_executor(server: LiveServer) -> None:
    """GET /readyz reports the database and the sandbox executor as ok."""
    response = server.client(None).get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "executor": "ok"},
    }


def test_metrics_count_executions_durations_and_responses(shared_server: LiveServer) -> None:
    """Executions by snippet and status, the duration histogram and HTTP statuses are exported."""
    token = shared_server.create_snippet(
        "metered", "def main(event):\n    return {'outputFields': {'x': 1}}\n"
    )["hookToken"]
    client = shared_server.client(None)
    before = client.get("/metrics").text

    shared_server.call_hook("metered", action_payload("ap-m-1"), token=token)
    shared_server.call_hook("metered", action_payload("ap-m-1"), token=token)  # a replay
    shared_server.call_hook("metered", action_payload("ap-m-2"), token=token)
    response = client.get("/metrics")

    after = response.text
    assert response.headers["content-type"].startswith("text/plain")
    counted = "codehook_executions_total"
    assert _sample(after, counted, snippet="metered", status="success") == 2
    assert _sample(before, counted, snippet="metered", status="success") == 0
    histogram = "codehook_execution_duration_seconds_count"
    assert _sample(after, histogram, snippet="metered") == 2
    hooks = "codehook_http_responses_total"
    assert _sample(after, hooks, route="/v1/hooks/{name}", status="200") >= 3
    for gauge in ("codehook_executor_slots", "codehook_executor_busy_slots"):
        assert gauge in after


def test_request_id_is_echoed_or_made(shared_server: LiveServer) -> None:
    """Each response carries X-Request-Id: the caller's, or a new one."""
    client = shared_server.client(Role.VIEWER)

    given = client.get("/v1/snippets", headers={"X-Request-Id": "trace-123"})
    made = client.get("/v1/snippets")

    assert given.headers["X-Request-Id"] == "trace-123"
    assert len(made.headers["X-Request-Id"]) >= 16


def test_codehook_serve_starts_on_sqlite_and_says_where_data_lives(tmp_path: Path) -> None:
    """`codehook serve` creates the schema in CODEHOOK_DATA_DIR, logs where, and answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEHOOK_")}
    env["CODEHOOK_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = _wait_for(f"http://127.0.0.1:{port}/readyz")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)

    assert ready == 200, stderr
    assert (tmp_path / "data" / "codehook.db").is_file()
    (line,) = [json.loads(x) for x in stderr.splitlines() if "codehook data in" in x]
    assert str(tmp_path / "data") in line["message"] and "created" in line["message"]


def _wait_for(url: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=1).status_code
        except httpx.TransportError:
            time.sleep(0.1)
    return 0
