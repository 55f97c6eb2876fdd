"""A token bucket per HubSpot portal: in Redis when given one (shared by every worker), else local."""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["TokenBucket"]

# Refill from the time elapsed since the last take, then take one token or say how long to
# wait. Redis' own clock, so workers on machines with skewed clocks agree.
_TAKE = """
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * capacity / window)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) * window / capacity
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 2000))
return tostring(wait)
"""


class TokenBucket:
    """`capacity` requests per `window_seconds` for each key (a HubSpot portal id)."""

    def __init__(
        self,
        redis: Any | None,
        *,
        capacity: int = 190,
        window_seconds: float = 10.0,
        prefix: str = "codehook:ratelimit:",
    ) -> None:
        if capacity < 1 or window_seconds <= 0:
            raise ValueError(
                f"a bucket needs capacity >= 1 and a positive window, got {capacity!r}/{window_seconds!r}"
            )
        self.capacity = capacity
        self.window_seconds = window_seconds
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_TAKE) if redis is not None else None
        self._local: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one request's token: 0.0 when granted, else the seconds until one is free.

        A refused take takes nothing; call again after the wait.
        """
        if self._script is not None:
            wait = self._script(
                keys=[self._prefix + key], args=[self.capacity, self.window_seconds]
            )
            return float(wait)
        return self._take_local(key)

    def _take_local(self, key: str) -> float:
        now = time.monotonic()
        rate = self.capacity / self.window_seconds
        with self._lock:
            tokens, at = self._local.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - at) * rate)
            if tokens >= 1:
                self._local[key] = (tokens - 1, now)
                return 0.0
            self._local[key] = (tokens, now)
            return (1 - tokens) / rate
