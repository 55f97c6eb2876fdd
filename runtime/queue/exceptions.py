"""Errors of the queue seam.

QueueError
└── QueueUnavailable   the queue (Redis) cannot take work now; the caller answers 503
"""

from __future__ import annotations


class QueueError(Exception):
    pass


class QueueUnavailable(QueueError):
    def __init__(self, message: str, *, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
