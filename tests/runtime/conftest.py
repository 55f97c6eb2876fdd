"""Fixtures: a real Codehook server (uvicorn on a free port) with API tokens for each role."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.live import LiveServer, ServerFactory, serve


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers with their own settings (`CODEHOOK_*` names without the prefix)."""
    numbers = itertools.count()
    with contextlib.ExitStack() as stack:

        def start(database_url: str | None = None, **env: str) -> LiveServer:
            data = tmp_path / f"data-{next(numbers)}"
            data.mkdir()
            url = database_url or f"sqlite:///{data / 'codehook.db'}"
            environ = {f"CODEHOOK_{key.upper()}": value for key, value in env.items()}
            return stack.enter_context(serve(data, url, **environ))

        yield start


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh server per test, on SQLite and on PostgreSQL."""
    with serve(tmp_path, database_url) as live:
        yield live


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One SQLite-backed server for a test module; tests use distinct snippet names."""
    data = tmp_path_factory.mktemp("shared")
    with serve(data, f"sqlite:///{data / 'codehook.db'}") as live:
        yield live
