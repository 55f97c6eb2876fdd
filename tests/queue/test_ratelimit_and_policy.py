"""The per-portal token bucket (Redis and in-process) and the retry policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from connectors.hubspot import TokenBucket
from runtime.delivery import Failure, RetryPolicy
from runtime.delivery.policy import record_failure
from tests.fakes.hubspot import FakeHubSpot, Scripted
from tests.queue.support import wait_for
from tests.runtime.live import ServerFactory, action_payload, execution


def test_local_bucket_grants_capacity_then_says_how_long_to_wait() -> None:
    """190 takes pass at once; the 191st waits about one refill interval; portals are separate."""
    bucket = TokenBucket(None, capacity=190, window_seconds=10)

    granted = [bucket.take("62515") for _ in range(190)]
    wait = bucket.take("62515")

    assert granted == [0.0] * 190
    assert 0 < wait <= 10 / 190 + 0.01
    assert bucket.take("other-portal") == 0.0


def test_redis_bucket_is_shared_by_every_client(redis_url: str) -> None:
    """Two buckets on one Redis (two workers) draw on one budget per portal."""
    first = TokenBucket(redis.Redis.from_url(redis_url), capacity=3, window_seconds=10)
    second = TokenBucket(redis.Redis.from_url(redis_url), capacity=3, window_seconds=10)

    takes = [first.take("1"), second.take("1"), first.take("1"), second.take("1")]

    assert takes[:3] == [0.0, 0.0, 0.0]
    assert 3.0 < takes[3] <= 3.4


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after() -> None:
    """Delays double per failure within [half, full] of the ceiling; Retry-After wins."""
    policy = RetryPolicy(base_seconds=2, max_delay_seconds=60)

    assert 1 <= policy.delay(1) <= 2 and 4 <= policy.delay(3) <= 8
    assert 30 <= policy.delay(20) <= 60
    assert 7 <= policy.delay(1, retry_after=7) <= 8


def test_only_429_5xx_and_no_answer_are_retried() -> None:
    """Other 4xx fail at once; 429, 500 and connection errors are retried."""
    assert Failure(429, "").retryable and Failure(503, "").retryable and Failure(None, "").retryable
    assert not Failure(400, "").retryable and not Failure(404, "").retryable


def test_retries_give_up_at_the_end_of_the_window() -> None:
    """A failure whose next try would fall outside the window marks the part failed."""
    policy = RetryPolicy(base_seconds=10, window_seconds=15)
    part: dict[str, object] = {"state": "pending", "attempts": []}
    start = datetime(2025, 1, 1, tzinfo=UTC)

    record_failure(part, start, Failure(500, "HTTP 500"), policy)
    first_state = part["state"]
    record_failure(part, start + timedelta(seconds=10), Failure(500, "HTTP 500"), policy)

    assert first_state == "pending"
    assert part["state"] == "failed" and "gave up after 2" in str(part["reason"])


RATE_LIMITED = """\
import requests

def main(event):
    response = requests.get(
        "https://api.hubapi.com/crm/v3/objects/contacts/1001",
        headers={"Authorization": "Bearer test-hubspot-token"},
    )
    response.raise_for_status()
    return {"outputFields": {"email": response.json()["properties"]["email"]}}
"""


def test_async_snippet_hitting_a_hubspot_429_is_retried_on_the_queue(
    make_server: ServerFactory, hubspot: FakeHubSpot
) -> None:
    """A rate-limited async run waits out Retry-After on the queue and then succeeds."""
    hubspot.add_object("contacts", {"email": "ada@example.com"}, object_id=1001)
    hubspot.script("GET", "/crm/v3/objects/contacts/*", Scripted(429, headers={"Retry-After": "1"}))
    server = make_server(EGRESS_OVERRIDES=f'{{"api.hubapi.com": "{hubspot.url}"}}')
    snippet = server.create_snippet("lookup", RATE_LIMITED, mode="async")

    server.call_hook("lookup", action_payload("cb-rl"), token=snippet["hookToken"])

    done = wait_for(lambda: hubspot.completed_callbacks.get("cb-rl"), what="the callback")
    assert done == {"email": "ada@example.com", "hs_execution_state": "SUCCESS"}
    (record,) = server.client().get("/v1/executions").json()["items"]
    shown = execution(server, record["id"])
    assert [a["status"] for a in shown["attemptLog"]] == ["rate_limited", "success"]
