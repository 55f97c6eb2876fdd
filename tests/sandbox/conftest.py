"""One real executor (a zygote and its forked children) shared by the sandbox tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import Executor


@pytest.fixture(scope="session")
def executor() -> Iterator[Executor]:
    """A started executor; each test's executions are real forks of its zygote."""
    with Executor(max_concurrency=4) as ex:
        yield ex
