"""Generated requests from the service's own OpenAPI document never cause a 5xx."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from runtime.app import create_app
from runtime.auth import Role
from runtime.config import Settings
from tests.runtime.live import LiveServer, postgres_schema, serve

CODE = "def main(event):\n    print('hi')\n    return {'outputFields': {'ok': True}}\n"


def _operations() -> dict[str, schemathesis.APIOperation]:
    # Built from the app object at collection time (no server yet); the test checks that the
    # live server publishes the same document at /openapi.json.
    # (schemathesis' own pytest plugin does not run under pytest 9, hence plain `@given`.)
    document = create_app(Settings.from_env({}), migrate=False).openapi()
    schema = schemathesis.openapi.from_dict(document)
    operations = (result.ok() for result in schema.get_all_operations())
    return {operation.label: operation for operation in operations}


OPERATIONS = _operations()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server of its own per database (its data is garbage afterwards)."""
    data: Path = tmp_path_factory.mktemp("fuzz")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{data / 'codehook.db'}"
        else:
            url = stack.enter_context(postgres_schema())
        yield stack.enter_context(serve(data, url))


@pytest.fixture
def snippet_a(fuzzed: LiveServer) -> str:
    """Snippet `a` exists (a fuzzed DELETE may have removed it); its hook token."""
    shown = fuzzed.client(Role.EDITOR).get("/v1/snippets/a")
    if shown.status_code == 200:
        token: str = shown.json()["hookToken"]
        return token
    created = fuzzed.create_snippet("a", CODE, writeBack={"properties": {"ok": "hs_ok"}})
    token = created["hookToken"]
    return token


def test_served_openapi_document_is_the_one_fuzzed(fuzzed: LiveServer) -> None:
    """/openapi.json on the live server lists exactly the operations fuzzed below."""
    document = fuzzed.client(None).get("/openapi.json").json()

    served = {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }

    assert served == set(OPERATIONS)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_generated_requests_never_get_a_server_error(
    fuzzed: LiveServer, snippet_a: str, label: str
) -> None:
    """No input the schema allows, nor one that breaks it, makes the endpoint answer 5xx."""
    operation = OPERATIONS[label]
    # Half the cases name the snippet that exists, so bodies reach the code behind the 404.
    known = {"name": "a"} if "{name}" in operation.path else None
    cases = st.one_of(
        operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for path_parameters in {None: None, "known": known}.values()
    )
    headers = {
        "Authorization": f"Bearer {fuzzed.tokens[Role.ADMIN]}",
        "X-Codehook-Token": snippet_a,
    }

    @given(case=cases)
    @settings(
        max_examples=int(os.environ.get("CODEHOOK_FUZZ_EXAMPLES", "25")),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: schemathesis.Case) -> None:
        # Revoking the test's own tokens would turn every later case into a 401.
        revoked = str((case.path_parameters or {}).get("token_id"))
        assume(revoked not in {str(token_id) for token_id in fuzzed.token_ids})
        response = case.call(base_url=fuzzed.url, headers=headers, timeout=30)
        # 503 with Retry-After is the documented back-pressure answer, not a crash.
        if response.status_code == 503 and "Retry-After" in response.headers:
            return
        case.validate_response(response, checks=[not_a_server_error])

    check()
