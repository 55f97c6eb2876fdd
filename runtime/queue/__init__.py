"""The queue seam: RQ on Redis when CODEHOOK_REDIS_URL is set, else a thread pool in `serve`.

Async runs, write-backs and callbacks are stored in the database first; the queue carries
notices of them, and a sweeper re-sends notices that are due or were lost.
"""

from runtime.queue.exceptions import QueueError, QueueUnavailable
from runtime.queue.service import QueueService, retry_policy, start_for_serve, start_for_worker
from runtime.queue.task import Task, TaskQueue

__all__ = [
    "QueueError",
    "QueueService",
    "QueueUnavailable",
    "Task",
    "TaskQueue",
    "retry_policy",
    "start_for_serve",
    "start_for_worker",
]
