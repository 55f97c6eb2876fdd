"""What queued tasks do: run an async execution under a lease, deliver its results."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from runtime.db import Snippet, work
from runtime.db import snippets as store
from runtime.db.models import Execution, utcnow
from runtime.delivery import Deliverer, Delivery
from runtime.hooks.record import callback_for, finish, writeback_for
from runtime.hooks.response import hook_response
from runtime.hooks.run import execute
from runtime.queue.exceptions import QueueUnavailable
from runtime.queue.task import Task, TaskQueue
from runtime.secrets import granted
from sandbox import ErrorInfo, ExecutionResult, ExecutorBusy
from sandbox import ExecutionStatus as RunStatus

if TYPE_CHECKING:
    from runtime.api.deps import AppState

log = logging.getLogger("codehook.queue")

# A queued run waits for a sandbox slot as long as it takes (hook calls share the slots).
_SLOT_WAIT = 24 * 3600.0
WORKER_LOST = (
    "the worker running it stopped renewing its lease before it finished (killed or crashed)"
)


class Jobs:
    """The handler of every task, in `serve` (embedded) or in a `codehook worker`."""

    def __init__(self, state: AppState, queue: TaskQueue, delivery: Delivery) -> None:
        self.state = state
        self.queue = queue
        self.delivery = delivery
        self.policy = delivery.policy
        self.deliverer = Deliverer(delivery.run)

    def perform(self, task: Task) -> None:
        if task.kind == "run":
            self.run(task.execution_id)
        else:
            self.delivery.run([task.execution_id])

    def close(self) -> None:
        self.deliverer.close()

    def run(self, execution_id: str) -> None:
        """One attempt of an async execution, if it is still pending (else another has it)."""
        settings = self.state.settings
        with self.state.sessions() as session:
            execution = work.claim_run(
                session, execution_id=execution_id, lease_seconds=settings.worker_lease_seconds
            )
            if execution is None:
                return
            snippet = session.get(Snippet, execution.snippet_id)
            version = (
                store.get_version(session, snippet=snippet, number=execution.version)
                if snippet
                else None
            )
            secrets = (
                granted(session, version.settings.get("secrets") or [], self.state.keyring)
                if version
                else {}
            )
        if version is None:
            result = _failed("SnippetMissing", f"snippet version {execution.version} is gone")
            self._finish(execution, {}, result)
            return
        with self._lease(execution_id):
            try:
                result = execute(
                    self.state,
                    version,
                    execution.event or {},
                    secrets=secrets,
                    wait_seconds=_SLOT_WAIT,
                )
            except ExecutorBusy as busy:
                self._again(
                    execution, "rejected", _error("Overloaded", str(busy)), busy.retry_after
                )
                return
            except Exception as exc:
                log.exception("running execution %s failed", execution_id)
                if not self._again(execution, "crashed", _error(type(exc).__name__, str(exc))):
                    self._finish(execution, version.settings, _failed(type(exc).__name__, str(exc)))
                return
        if result.rate_limited:
            # HubSpot said slow down: another attempt on the queue, after its wait or a back-off.
            delay = result.retry_after_seconds or self.policy.delay(execution.attempts)
            error = result.error.to_dict() if result.error else None
            if self._again(execution, "rate_limited", error, delay):
                return
            message = f"still rate limited after {execution.attempts} attempt(s)"
            result = dataclasses.replace(
                result,
                rate_limited=False,
                status=RunStatus.ERROR,
                error=ErrorInfo("RateLimited", message),
            )
        self._finish(execution, version.settings, result)

    def recover(self, execution: Execution) -> None:
        """A run whose worker died: another attempt, or failed with the reason after too many."""
        lost = _error("WorkerLost", WORKER_LOST)
        if execution.attempts < self.state.settings.max_run_attempts:
            with self.state.sessions() as session:
                again = work.requeue_run(
                    session, execution_id=execution.id, outcome="abandoned", error=lost,
                    delay_seconds=0, expired_before=utcnow(),
                )  # fmt: skip
            if again is not None:
                self.notify(Task("run", again.id, again.attempts))
            return
        message = f"{WORKER_LOST}; gave up after {execution.attempts} attempt(s)"
        result = ExecutionResult(status=RunStatus.CRASHED, error=ErrorInfo("WorkerLost", message))
        with self.state.sessions() as session:
            snippet = session.get(Snippet, execution.snippet_id)
            version = (
                store.get_version(session, snippet=snippet, number=execution.version)
                if snippet
                else None
            )
        self._finish(execution, version.settings if version else {}, result)

    def notify(self, task: Task, *, force: bool = False) -> None:
        """Queue a task; if the queue is down the work stays due and the sweeper re-sends it."""
        try:
            self.queue.enqueue(task, force=force)
        except QueueUnavailable as exc:
            log.warning("could not queue %s: %s", task.key, exc)

    # -- helpers ----------------------------------------------------------------------------

    def _again(
        self, execution: Execution, outcome: str, error: dict[str, Any] | None, delay: float = 0
    ) -> bool:
        """Queue a further attempt after `delay`; False when the attempts are used up."""
        if execution.attempts >= self.state.settings.max_run_attempts:
            return False
        with self.state.sessions() as session:
            again = work.requeue_run(
                session,
                execution_id=execution.id,
                outcome=outcome,
                error=error,
                delay_seconds=delay,
            )
        if again is not None and delay <= 0:
            self.notify(Task("run", again.id, again.attempts))
        return True  # a later attempt is due; the sweeper queues it when its time comes

    def _finish(
        self, execution: Execution, version_settings: dict[str, Any], result: ExecutionResult
    ) -> None:
        event = execution.event or {}
        with self.state.sessions() as session:
            current = session.get(Execution, execution.id)
            assert current is not None, "executions are never deleted while queued"
            finished = finish(
                session,
                current,
                result,
                hook_response(result),
                writeback=writeback_for(version_settings, event, result),
                callback=callback_for(version_settings, execution, result),
            )
        if finished.delivery is not None:
            self.deliverer.submit(finished.id)

    @contextmanager
    def _lease(self, execution_id: str) -> Iterator[None]:
        """Renew the run's lease while it runs, so the sweeper knows this worker is alive."""
        seconds = self.state.settings.worker_lease_seconds
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(seconds / 3):
                try:
                    with self.state.sessions() as session:
                        work.renew_lease(session, execution_id=execution_id, lease_seconds=seconds)
                except Exception:
                    log.exception("renewing the lease of %s failed", execution_id)

        thread = threading.Thread(target=renew, name="codehook-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": kind, "message": message, "line": None, "traceback": None}


def _failed(kind: str, message: str) -> ExecutionResult:
    return ExecutionResult(status=RunStatus.ERROR, error=ErrorInfo(kind, message))


# -- the RQ entry point ---------------------------------------------------------------------

_active: Jobs | None = None


def activate(jobs: Jobs | None) -> None:
    """Make `jobs` the handler RQ jobs of this process run with (`codehook worker` does)."""
    global _active
    _active = jobs


def perform(kind: str, execution_id: str) -> None:
    """What an RQ job calls: `runtime.queue.jobs.perform(kind, execution_id)`."""
    if _active is None:
        raise RuntimeError("no Codehook worker context in this process (run `codehook worker`)")
    _active.perform(Task("run" if kind == "run" else "deliver", execution_id))
