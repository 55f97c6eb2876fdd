"""RQ on Redis: any number of `codehook worker` processes, on any number of machines."""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from runtime.queue.exceptions import QueueUnavailable
from runtime.queue.task import Task

QUEUE_NAME = "codehook"
# The dotted path RQ workers import; it runs the task with the worker's own context.
JOB_FUNCTION = "runtime.queue.jobs.perform"
_LIVE = {b"queued", b"started", b"scheduled", b"deferred"}


def connect(url: str) -> Redis:
    """A client that fails fast when Redis is down, so hooks answer 503 instead of hanging."""
    return Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=15
    )


class RQQueue:
    """Enqueues tasks as RQ jobs whose id is the task key."""

    name = "rq"

    def __init__(self, redis: Redis, *, job_timeout_seconds: float, queue_name: str = QUEUE_NAME):
        self.redis = redis
        self.rq = Queue(queue_name, connection=redis)
        self._job_timeout = int(job_timeout_seconds)

    def enqueue(self, task: Task, *, force: bool = False) -> bool:
        try:
            if not force and self._live(task.key):
                return False
            self.rq.enqueue(
                JOB_FUNCTION,
                task.kind,
                task.execution_id,
                job_id=task.key,
                job_timeout=self._job_timeout,
                result_ttl=0,
                failure_ttl=24 * 3600,
                description=f"{task.kind} {task.execution_id}",
            )
        except RedisError as exc:
            raise QueueUnavailable(f"the queue (Redis) is unavailable: {exc}") from exc
        return True

    def healthy(self) -> bool:
        try:
            return bool(self.redis.ping())
        except RedisError:
            return False

    def close(self) -> None:
        self.redis.close()

    def _live(self, key: str) -> bool:
        status: Any = self.redis.hget(f"rq:job:{key}", "status")
        return status in _LIVE
