"""Wiring the queue for a process: `serve` (embedded or RQ producer) and `codehook worker`."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redis import Redis
from redis.exceptions import RedisError

from connectors.hubspot import TokenBucket
from runtime.delivery import Delivery, RetryPolicy
from runtime.queue import jobs as jobs_module
from runtime.queue.embedded import EmbeddedQueue
from runtime.queue.jobs import Jobs
from runtime.queue.rq_queue import RQQueue, connect
from runtime.queue.sweeper import Sweeper
from runtime.queue.task import Task, TaskQueue

if TYPE_CHECKING:
    from runtime.api.deps import AppState
    from runtime.config import Settings

# RQ kills a job that outlives the longest async run by this much (the sandbox kills first).
_JOB_TIMEOUT_MARGIN_SECONDS = 300


@dataclass
class QueueService:
    """The queue of a process and, where this process does the work, its jobs and sweeper."""

    queue: TaskQueue
    jobs: Jobs | None = None
    sweeper: Sweeper | None = None
    redis: Redis | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.jobs is not None:
            self.jobs.close()
        self.queue.close()


def start_for_serve(state: AppState) -> QueueService:
    """RQ when CODEHOOK_REDIS_URL is set (workers do the work), else the embedded queue."""
    settings = state.settings
    if settings.redis_url:
        return QueueService(queue=_rq_queue(settings, connect(settings.redis_url)))
    holder: list[Jobs] = []
    queue = EmbeddedQueue(
        lambda task: holder[0].perform(task), concurrency=settings.embedded_concurrency
    )
    jobs = Jobs(state, queue, _delivery(state, None))
    holder.append(jobs)
    sweeper = Sweeper(jobs, interval=settings.sweep_interval_seconds).start()
    return QueueService(queue=queue, jobs=jobs, sweeper=sweeper)


def start_for_worker(state: AppState) -> QueueService:
    """A `codehook worker`: RQ jobs of this process run with these jobs; it sweeps in turn."""
    settings = state.settings
    assert settings.redis_url, "workers need CODEHOOK_REDIS_URL"
    redis = connect(settings.redis_url)
    queue = _rq_queue(settings, redis)
    jobs = Jobs(state, queue, _delivery(state, redis))
    jobs_module.activate(jobs)
    sweeper = Sweeper(
        jobs, interval=settings.sweep_interval_seconds, may_sweep=_sweep_lock(redis, settings)
    ).start()
    return QueueService(queue=queue, jobs=jobs, sweeper=sweeper, redis=redis)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_seconds=settings.retry_base_seconds,
        max_delay_seconds=settings.retry_max_delay_seconds,
        window_seconds=settings.retry_window_seconds,
    )


def _rq_queue(settings: Settings, redis: Redis) -> RQQueue:
    timeout = max(settings.max_async_timeout_seconds, settings.max_timeout_seconds)
    return RQQueue(redis, job_timeout_seconds=timeout + _JOB_TIMEOUT_MARGIN_SECONDS)


def _delivery(state: AppState, redis: Redis | None) -> Delivery:
    settings = state.settings
    token = settings.hubspot_access_token
    return Delivery(
        sessions=state.sessions,
        base_url=settings.hubspot_base_url,
        access_token=token.get_secret_value() if token else None,
        keyring=state.keyring,
        bucket=TokenBucket(
            redis,
            capacity=settings.hubspot_rate_limit,
            window_seconds=settings.hubspot_rate_window_seconds,
        ),
        policy=retry_policy(settings),
        lease_seconds=settings.worker_lease_seconds,
    )


def _sweep_lock(redis: Redis, settings: Settings) -> Callable[[], bool]:
    """One sweep per interval among all workers: whoever sets the key first."""
    me = secrets.token_hex(8)
    ttl_ms = max(int(settings.sweep_interval_seconds * 900), 100)

    def may_sweep() -> bool:
        try:
            return bool(redis.set("codehook:sweeper", me, nx=True, px=ttl_ms))
        except RedisError:
            return False  # nothing can be queued now anyway

    return may_sweep


__all__ = ["QueueService", "Task", "retry_policy", "start_for_serve", "start_for_worker"]
