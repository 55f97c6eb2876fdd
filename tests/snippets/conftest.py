"""One real Codehook server with the reference snippets pushed, a fake HubSpot and a fake
availability service, shared by the snippet tests (each test uses its own records)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.auth import Role
from runtime.cli import main as codehook
from sandbox import Executor
from tests.fakes.hubspot import FakeHubSpot
from tests.runtime.live import LiveServer, action_payload, serve
from tests.snippets.availability import FakeAvailability

SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
HS_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
AVAILABILITY_KEY = "avl_live_6f1c2b9e8d7a4f30"


@dataclass
class Service:
    """The running server and the fakes its snippets call."""

    server: LiveServer
    hubspot: FakeHubSpot
    availability: FakeAvailability

    def call(
        self,
        name: str,
        inputs: dict[str, Any] | None = None,
        *,
        object_id: int | str = 614,
        object_type: str = "CONTACT",
    ) -> httpx.Response:
        """Call the snippet's hook as a HubSpot workflow does: a v3-signed custom-code payload."""
        payload = action_payload(
            f"ap-{uuid.uuid4()}",
            object_id=int(object_id),
            object_type=object_type,
            **(inputs or {}),
        )
        return self.server.call_hook(name, payload, signed=True)

    def outputs(self, name: str, inputs: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """The hook's outputFields, after checking it answered 200."""
        response = self.call(name, inputs, **kw)
        assert response.status_code == 200, response.text
        fields: dict[str, Any] = response.json()["outputFields"]
        return fields


def manifest() -> dict[str, dict[str, Any]]:
    """The manifest's entries by snippet name."""
    entries = json.loads((SNIPPETS / "manifest.json").read_text())["snippets"]
    return {entry["name"]: entry for entry in entries}


def _grant(server: LiveServer, name: str, value: str) -> None:
    """Store a secret through the secrets API (before pushing: grants must name real secrets)."""
    response = server.client(Role.ADMIN).put(f"/v1/secrets/{name}", json={"value": value})
    assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server whose snippets reach the fakes through egress overrides, snippets pushed."""
    data = tmp_path_factory.mktemp("snippets-service")
    # The fakes insist on the secrets, so every passing call proves the service granted them.
    with FakeHubSpot(access_token=HS_TOKEN) as hubspot:
        availability = FakeAvailability(api_key=AVAILABILITY_KEY).start()
        overrides = {"api.hubapi.com": hubspot.url, "availability.example.com": availability.url}
        try:
            with serve(
                data,
                f"sqlite:///{data / 'codehook.db'}",
                CODEHOOK_EGRESS_OVERRIDES=json.dumps(overrides),
            ) as server:
                _grant(server, "hstoken", HS_TOKEN)
                _grant(server, "AVAILABILITY_API_KEY", AVAILABILITY_KEY)
                pushed = codehook(
                    ["snippets", "push", str(SNIPPETS), "--url", server.url,
                     "--token", server.tokens[Role.EDITOR]]
                )  # fmt: skip
                assert pushed == 0
                yield Service(server, hubspot, availability)
        finally:
            availability.stop()


@pytest.fixture(autouse=True)
def _reset_fakes(request: pytest.FixtureRequest) -> None:
    """Each test starts with an availability service that answers "nobody" and has no requests."""
    if "service" not in request.fixturenames:
        return
    svc: Service = request.getfixturevalue("service")
    svc.availability.reply([])
    svc.availability.requests.clear()


@pytest.fixture(scope="session")
def executor() -> Iterator[Executor]:
    """A sandbox executor for runs that need no service (bulk statistics, secrets)."""
    with Executor(max_concurrency=4) as ex:
        yield ex
