"""Fixtures: the real Redis (a private database number, flushed), a fake HubSpot, servers, workers."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.fakes.hubspot import FakeHubSpot
from tests.queue.support import FAST, Workers
from tests.runtime.live import LiveServer, ServerFactory, serve

REDIS_DB = 11
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The shared Redis on 6379, in a database of its own, flushed before and after."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is unreachable: {exc}")
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(access_token=FAST["HUBSPOT_ACCESS_TOKEN"]) as fake:
        yield fake


@pytest.fixture
def make_server(tmp_path: Path, hubspot: FakeHubSpot) -> Iterator[ServerFactory]:
    """Servers pointed at the fake HubSpot with fast retries (`CODEHOOK_*` names without prefix)."""
    numbers = itertools.count()
    with contextlib.ExitStack() as stack:

        def start(
            database_url: str | None = None, *, data: Path | None = None, **env: str
        ) -> LiveServer:
            if data is None:
                data = tmp_path / f"data-{next(numbers)}"
                data.mkdir()
            url = database_url or f"sqlite:///{data / 'codehook.db'}"
            settings = {"HUBSPOT_BASE_URL": hubspot.url, **FAST, **env}
            environ = {f"CODEHOOK_{key.upper()}": value for key, value in settings.items()}
            return stack.enter_context(serve(data, url, **environ))

        yield start


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    group = Workers(tmp_path)
    yield group
    group.stop_all()
