"""When to try a HubSpot call again: which failures are retried, after how long, until when.

A delivery part (the write-back or the callback of one execution) is a JSON dict stored on
the execution: `state` (`pending`, `written`/`completed`, `failed`), `attempts` (each with
`at`, `status`, `error`), `firstAttemptAt` and `nextAttemptAt`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.hubspot import api_error_status, retry_after_seconds

PENDING = "pending"
FAILED = "failed"


@dataclass(frozen=True)
class Failure:
    """One failed HubSpot call: its status (None: no answer) and whether to try again."""

    status: int | None
    message: str
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        # 429, 5xx and no answer at all (connection refused, reset, timed out); never other 4xx.
        return self.status is None or self.status == 429 or self.status >= 500

    @classmethod
    def of(cls, error: BaseException) -> Failure:
        status = api_error_status(error)
        if status is None:
            return cls(None, f"{type(error).__name__}: {error}"[:500])
        reason = getattr(error, "reason", None) or ""
        return cls(status, f"HTTP {status} {reason}".strip(), retry_after_seconds(error))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter, `Retry-After` when HubSpot says, within `window`."""

    base_seconds: float = 5.0
    max_delay_seconds: float = 3600.0
    window_seconds: float = 3 * 24 * 3600.0

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `failures`-th failure in a row."""
        if retry_after is not None:
            # Honour HubSpot's wait; a little jitter so a crowd of retries does not land at once.
            return retry_after + random.uniform(0, min(1.0, retry_after / 4))
        ceiling = min(self.max_delay_seconds, self.base_seconds * 2 ** max(failures - 1, 0))
        return random.uniform(ceiling / 2, ceiling)


def is_due(part: dict[str, Any] | None, now: datetime) -> bool:
    if not part or part.get("state") != PENDING:
        return False
    due = part.get("nextAttemptAt")
    return due is None or datetime.fromisoformat(due) <= now


def record_success(part: dict[str, Any], now: datetime, *, status: int, done: str) -> None:
    part["attempts"] = [*part.get("attempts", []), _attempt(now, status, None)]
    part.update(state=done, nextAttemptAt=None, doneAt=now.isoformat())


def record_failure(
    part: dict[str, Any], now: datetime, failure: Failure, policy: RetryPolicy
) -> None:
    """Append the attempt; schedule the next one, or give up (other 4xx, or out of window)."""
    part["attempts"] = [*part.get("attempts", []), _attempt(now, failure.status, failure.message)]
    if not part.get("firstAttemptAt"):
        part["firstAttemptAt"] = now.isoformat()
    since = part["firstAttemptAt"]
    first = datetime.fromisoformat(since)
    failures = sum(1 for a in part["attempts"] if a.get("error") and a["at"] >= since)
    delay = policy.delay(failures, failure.retry_after)
    next_at = now + timedelta(seconds=delay)
    if not failure.retryable:
        part.update(state=FAILED, nextAttemptAt=None, reason=f"not retried: {failure.message}")
    elif next_at > first + timedelta(seconds=policy.window_seconds):
        reason = f"gave up after {failures} failed attempt(s) in {policy.window_seconds:g} s"
        part.update(state=FAILED, nextAttemptAt=None, reason=f"{reason}; last: {failure.message}")
    else:
        part["nextAttemptAt"] = next_at.isoformat()


def defer(part: dict[str, Any], now: datetime, seconds: float) -> None:
    """Postpone without an attempt (our own rate limit said wait)."""
    part["nextAttemptAt"] = (now + timedelta(seconds=seconds)).isoformat()


def fail(part: dict[str, Any], now: datetime, message: str) -> None:
    """Give up at once without calling HubSpot (no token to call it with)."""
    part["attempts"] = [*part.get("attempts", []), _attempt(now, None, message)]
    part.update(state=FAILED, nextAttemptAt=None, reason=message)


def _attempt(now: datetime, status: int | None, error: str | None) -> dict[str, Any]:
    return {"at": now.isoformat(), "status": status, "error": error}
