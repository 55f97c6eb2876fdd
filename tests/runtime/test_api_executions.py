"""Execution records: filters, time windows with time zones, cursor pagination, one record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from runtime.auth import Role
from tests.runtime.live import LiveServer, action_payload

OK = "def main(event):\n    return {'outputFields': {'id': event['object']['objectId']}}\n"
FAIL = "def main(event):\n    raise RuntimeError('nope')\n"


def _all_pages(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/executions", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def test_executions_filter_and_paginate(server: LiveServer) -> None:
    """Filters by snippet, status and objectId; pages walk every record once, newest first."""
    ok = server.create_snippet("ok", OK)["hookToken"]
    fail = server.create_snippet("fails", FAIL)["hookToken"]
    for n in range(5):
        server.call_hook("ok", action_payload(f"ap-ok-{n}", object_id=100 + n), token=ok)
    for n in range(2):
        server.call_hook("fails", action_payload(f"ap-fail-{n}", object_id=100), token=fail)
    client = server.client(Role.VIEWER)

    everything = _all_pages(client, limit=2)
    by_snippet = _all_pages(client, snippet="ok", limit=3)
    by_status = _all_pages(client, status="error")
    by_object = _all_pages(client, objectId="100")

    assert len(everything) == 7 and len(set(_ids(everything))) == 7
    created = [item["createdAt"] for item in everything]
    assert created == sorted(created, reverse=True)
    assert {item["callbackId"] for item in by_snippet} == {f"ap-ok-{n}" for n in range(5)}
    assert {item["snippet"] for item in by_status} == {"fails"}
    assert len(by_status) == 2
    assert sorted(item["snippet"] for item in by_object) == ["fails", "fails", "ok"]
    assert "logs" not in everything[0] and "event" not in everything[0]


def test_executions_since_until_respect_time_zones(server: LiveServer) -> None:
    """since (inclusive) and until (exclusive) compare instants, whatever the offset."""
    token = server.create_snippet("timed", OK)["hookToken"]
    server.call_hook("timed", action_payload("ap-t-1"), token=token)
    client = server.client(Role.VIEWER)
    (record,) = _all_pages(client, snippet="timed")
    at = datetime.fromisoformat(record["createdAt"])
    plus_two = timezone(timedelta(hours=2))
    minus_five = timezone(timedelta(hours=-5))

    def window(**bounds: datetime) -> list[str]:
        params = {key: value.isoformat() for key, value in bounds.items()}
        return _ids(_all_pages(client, snippet="timed", **params))

    assert window(since=at.astimezone(plus_two)) == [record["id"]]
    assert window(since=(at + timedelta(milliseconds=1)).astimezone(minus_five)) == []
    assert window(until=at.astimezone(minus_five)) == []
    assert window(until=(at + timedelta(seconds=1)).astimezone(plus_two)) == [record["id"]]
    z = client.get(
        "/v1/executions",
        params={
            "snippet": "timed",
            "since": (at - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    assert _ids(z.json()["items"]) == [record["id"]]


def test_executions_since_without_time_zone_is_422(shared_server: LiveServer) -> None:
    """A since/until without a time zone is refused, quoting the value."""
    response = shared_server.client(Role.VIEWER).get(
        "/v1/executions", params={"since": "2026-01-31T00:00:00"}
    )

    assert response.status_code == 422
    assert "2026-01-31T00:00:00" in response.json()["error"]["message"]


def test_executions_bad_status_or_cursor_is_refused(shared_server: LiveServer) -> None:
    """An unknown status answers 422 and a forged cursor 400, each saying what was wrong."""
    client = shared_server.client(Role.VIEWER)

    status = client.get("/v1/executions", params={"status": "exploded"})
    cursor = client.get("/v1/executions", params={"cursor": "not-a-cursor"})

    assert status.status_code == 422 and "exploded" in status.json()["error"]["message"]
    assert cursor.status_code == 400 and cursor.json()["error"]["code"] == "invalid_cursor"


def test_unknown_execution_is_404(shared_server: LiveServer) -> None:
    """GET /v1/executions/{id} for an unknown id answers 404 naming the id."""
    response = shared_server.client(Role.VIEWER).get("/v1/executions/01JUNKNOWN0000000000000000")

    assert response.status_code == 404
    assert "01JUNKNOWN0000000000000000" in response.json()["error"]["message"]


def test_execution_record_has_documented_fields(shared_server: LiveServer) -> None:
    """One record carries every field DESIGN.md lists for an execution."""
    token = shared_server.create_snippet("fields", OK)["hookToken"]
    shared_server.call_hook("fields", action_payload("ap-fields"), token=token)
    client = shared_server.client(Role.VIEWER)
    (listed,) = _all_pages(client, snippet="fields")

    record = client.get(f"/v1/executions/{listed['id']}").json()

    assert {
        "id",
        "snippet",
        "version",
        "status",
        "outputFields",
        "logs",
        "error",
        "durationMs",
        "cpuMs",
        "memoryKb",
        "callbackId",
        "objectId",
        "objectType",
        "portalId",
        "attempts",
        "event",
        "createdAt",
        "startedAt",
        "finishedAt",
        "writeBack",
        "callback",
    } <= set(record)
    started = datetime.fromisoformat(record["startedAt"])
    assert started.tzinfo is not None and started <= datetime.now(UTC)
