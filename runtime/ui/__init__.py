"""The web console at `/ui`: static pages that call the `/v1` API with a session cookie."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["mount"]


def mount(app: FastAPI) -> None:
    """Add the console's routes and static files to `app`."""
    # Imported here: the API's dependencies import runtime.ui.session, and routes import them.
    from runtime.ui.routes import router, static_files

    app.include_router(router)
    app.mount("/ui/static", static_files, name="ui-static")
