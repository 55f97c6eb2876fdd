"""`codehook worker`: an RQ worker for async runs, write-backs and callbacks (needs Redis)."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import time
from typing import Any

from runtime import logs
from runtime.config import Settings

log = logging.getLogger("codehook")

# After Redis went away, how long to wait before the worker registers again.
_RECONNECT_SECONDS = 1.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker", help="run queued async executions and deliveries (CODEHOOK_REDIS_URL)"
    )
    parser.add_argument("--name", help="worker name (default host.pid)")
    parser.add_argument(
        "--burst", action="store_true", help="stop when the queue is empty (tests, batch jobs)"
    )
    parser.set_defaults(handler=work)


def work(args: argparse.Namespace) -> int:
    logs.configure()
    settings = Settings.from_env()
    if not settings.redis_url:
        log.error(
            "codehook worker needs CODEHOOK_REDIS_URL; without Redis, `codehook serve` runs "
            "async work itself"
        )
        return 2
    from runtime.api.deps import AppState
    from runtime.db import create_engine_for, create_session_factory, describe, upgrade
    from runtime.queue import start_for_worker
    from runtime.secrets import keyring_for
    from sandbox import Executor

    # One sandbox child at a time: RQ hands this process one job at a time. The zygote starts
    # before this process holds any secret.
    executor = Executor(max_concurrency=1).start()
    engine = create_engine_for(settings)
    upgrade(engine)
    sessions = create_session_factory(engine)
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        executor=executor,
        max_in_flight=1,
        keyring=keyring_for(settings, sessions),
    )
    service = start_for_worker(state)
    state.queue = service.queue
    name = args.name or f"{socket.gethostname()}.{os.getpid()}"
    log.info("codehook worker %s on %s, data in %s", name, "rq", describe(engine.url))
    assert service.redis is not None
    try:
        while True:
            # SimpleWorker runs jobs in this process, where the sandbox executor lives (a
            # forked work-horse would not have the executor's threads).
            worker = _worker_class()([service.queue.rq], connection=service.redis, name=name)  # type: ignore[attr-defined]
            worker.max_connection_wait_time = 2.0
            try:
                worker.work(burst=args.burst, with_scheduler=False, logging_level="WARNING")
            except Exception as exc:  # Redis down while registering: try again shortly
                log.warning("worker %s lost Redis (%s); reconnecting", name, exc)
                time.sleep(_RECONNECT_SECONDS)
                continue
            if args.burst or worker.stop_signalled:
                return 0
            log.warning("worker %s stopped unexpectedly; restarting it", name)
            time.sleep(_RECONNECT_SECONDS)
    finally:
        service.close()
        executor.close()
        engine.dispose()


def _worker_class() -> Any:
    from rq import SimpleWorker

    class Worker(SimpleWorker):
        """Remembers a SIGTERM/SIGINT, which RQ turns into a plain return from `work()`."""

        stop_signalled = False

        def request_stop(self, signum: int, frame: Any) -> None:
            self.stop_signalled = True
            super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    return Worker
