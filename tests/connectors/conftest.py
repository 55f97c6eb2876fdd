"""Fixtures for the egress tests: the public and internal servers, checked after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.egress_support import Server, serve


@pytest.fixture(scope="module")
def public() -> Iterator[Server]:
    """A stand-in for a public API, reachable only through an override."""
    yield from serve()


@pytest.fixture(scope="module")
def internal() -> Iterator[Server]:
    """A stand-in for everything private: no egress test may ever connect to it."""
    yield from serve()


@pytest.fixture(autouse=True)
def _internal_never_reached(request: pytest.FixtureRequest) -> Iterator[None]:
    if not request.module.__name__.rsplit(".", 1)[-1].startswith("test_egress"):
        yield
        return
    public: Server = request.getfixturevalue("public")
    internal: Server = request.getfixturevalue("internal")
    public.seen.clear()
    internal.seen.clear()
    internal.connections = 0
    yield
    assert internal.connections == 0, internal.seen
