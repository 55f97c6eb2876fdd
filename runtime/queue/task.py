"""A unit of queued work and the seam every queue implements."""

from __future__ import annotations

from typing import Literal, NamedTuple, Protocol

TaskKind = Literal["run", "deliver"]


class Task(NamedTuple):
    """Run an async execution's attempt, or deliver an execution's write-back and callback."""

    kind: TaskKind
    execution_id: str
    attempt: int = 0

    @property
    def key(self) -> str:
        """One key per piece of work: a second notice for it is dropped while the first is live."""
        return f"{self.kind}-{self.execution_id}-{self.attempt}"


class TaskQueue(Protocol):
    """Carries notices of work; the database holds the work itself, so a lost notice is re-sent."""

    name: str

    def enqueue(self, task: Task, *, force: bool = False) -> bool:
        """Queue `task`; False when the same task is already queued or running (unless `force`).

        Raises QueueUnavailable when the queue cannot take it.
        """
        ...

    def healthy(self) -> bool: ...

    def close(self) -> None: ...
