"""The FastAPI application: wiring of settings, storage, the sandbox and the routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from runtime import logs, ui
from runtime.api import errors, guards
from runtime.api.deps import AppState
from runtime.api.routes import audit, console, executions, hooks, ops, snippets, stats, tokens
from runtime.api.routes import secrets as secret_routes
from runtime.config import Settings
from runtime.db import (
    create_engine_for,
    create_session_factory,
    describe,
    is_up_to_date,
    upgrade,
)
from runtime.queue import start_for_serve
from runtime.retention import Pruner
from runtime.secrets import keyring_for
from sandbox import Executor

log = logging.getLogger("codehook")


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """The app; `migrate=False` when `codehook serve` already upgraded the schema once."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The sandbox zygote starts first, before this process holds any secret.
        executor = Executor(max_concurrency=settings.executor_concurrency).start()
        engine = create_engine_for(settings)
        if migrate:
            migrated = upgrade(engine)
            state = "created" if migrated.created else "up to date"
            log.info("codehook data in %s (schema %s)", describe(engine.url), state)
        elif not is_up_to_date(engine):
            raise RuntimeError(f"the database at {describe(engine.url)} needs `codehook migrate`")
        sessions = create_session_factory(engine)
        try:  # a wrong or missing master key stops the start here, with what to do about it
            keyring = keyring_for(settings, sessions)
        except Exception:
            executor.close()
            raise
        app.state.codehook = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            executor=executor,
            max_in_flight=settings.max_hooks_in_flight,
            keyring=keyring,
        )
        # Async runs and deliveries: RQ workers when Redis is set, else threads of this process.
        work = start_for_serve(app.state.codehook)
        app.state.codehook.queue = work.queue
        pruner = Pruner(sessions, retention_days=settings.execution_retention_days).start()
        try:
            yield
        finally:
            pruner.stop()
            work.close()
            executor.close()
            engine.dispose()

    app = FastAPI(
        title="Codehook",
        version="0.1.0",
        summary="Runs HubSpot-style Python snippets for CRM workflows, in a sandbox.",
        lifespan=lifespan,
    )
    errors.install(app)
    # Added last runs first: every request gets its id before anything can refuse it.
    app.add_middleware(guards.RefuseNulInUrl)
    app.add_middleware(logs.RequestContext)
    # stats before executions: /v1/executions/stats is not an execution id.
    for module in (hooks, console, snippets, stats, executions, ops, secret_routes, tokens, audit):
        app.include_router(module.router)
    ui.mount(app)
    return app


def app_from_env() -> FastAPI:
    """The factory `codehook serve` hands uvicorn's workers; the schema is already migrated."""
    logs.configure()
    return create_app(Settings.from_env(), migrate=False)
