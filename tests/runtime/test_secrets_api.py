"""Secrets through the real service: admin-only management, grants, and redaction everywhere."""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from runtime.app import create_app
from runtime.auth import Role
from runtime.config import Settings
from runtime.db import create_engine_for_url, create_session_factory
from runtime.db.models import Execution, Secret
from runtime.secrets import MasterKey, MasterKeyError
from tests.runtime.live import LiveServer, ServerFactory, action_payload

VALUE = "sk_live_Q2hvY29sYXRlIGNha2U-9f8e"
FORMS = [
    VALUE,
    base64.b64encode(VALUE.encode()).decode().rstrip("="),
    urllib.parse.quote(VALUE, safe=""),
]
LEAKY = """
import base64
import os
import urllib.parse

def main(event):
    token = os.getenv("LEAKY_TOKEN")
    print("token is", token)
    print("b64", base64.b64encode(token.encode()).decode())
    print("url", urllib.parse.quote(token, safe=""))
    if event["inputFields"].get("fail"):
        raise ValueError("bad token " + token)
    return {"outputFields": {"echo": token, "missing": os.getenv("GONE_TOKEN")}}
"""


def _put(server: LiveServer, name: str, value: str = VALUE, role: Role = Role.ADMIN) -> int:
    response = server.client(role).put(f"/v1/secrets/{name}", json={"value": value})
    return response.status_code


def _assert_no_value(text: str) -> None:
    for form in FORMS:
        assert form not in text


def test_put_creates_then_rotates_and_list_never_shows_values(shared_server: LiveServer) -> None:
    """PUT answers 201 then 200; the list has names, times, editor and grants, never a value."""
    assert _put(shared_server, "list_me") == 201
    rotated = shared_server.client().put("/v1/secrets/list_me", json={"value": "second-value"})
    shared_server.create_snippet(
        "uses-list-me", "def main(event):\n    return None\n", secrets=["list_me"]
    )

    listed = shared_server.client().get("/v1/secrets")

    assert rotated.status_code == 200 and rotated.json()["name"] == "list_me"
    item = next(i for i in listed.json()["items"] if i["name"] == "list_me")
    assert item["updatedBy"] == "test-admin" and item["grantedTo"] == ["uses-list-me"]
    assert set(item) == {"name", "createdAt", "updatedAt", "updatedBy", "grantedTo"}
    _assert_no_value(listed.text + rotated.text)
    assert "second-value" not in listed.text + rotated.text


def test_delete_leaves_a_dangling_grant_that_reads_none(shared_server: LiveServer) -> None:
    """After DELETE the snippet shows the dangling grant and os.getenv gives None."""
    _put(shared_server, "GONE_TOKEN")
    code = (
        "import os\ndef main(event):\n    return {'outputFields': {'v': os.getenv('GONE_TOKEN')}}\n"
    )
    created = shared_server.create_snippet("dangling", code, secrets=["GONE_TOKEN"])

    deleted = shared_server.client().delete("/v1/secrets/GONE_TOKEN")
    again = shared_server.client().delete("/v1/secrets/GONE_TOKEN")
    shown = shared_server.client(Role.VIEWER).get("/v1/snippets/dangling").json()
    ran = shared_server.call_hook("dangling", action_payload(), token=created["hookToken"])

    assert deleted.status_code == 204 and again.status_code == 404
    assert created["danglingSecrets"] == [] and shown["danglingSecrets"] == ["GONE_TOKEN"]
    assert ran.json()["outputFields"]["v"] is None


@pytest.mark.parametrize("name", ["1st", "has-dash", "x" * 65, "sp%20ace", "caf%C3%A9"])
def test_odd_secret_names_are_422_and_change_nothing(shared_server: LiveServer, name: str) -> None:
    """A name outside [A-Za-z_][A-Za-z0-9_]{0,63} answers 422 naming the rule; nothing is stored."""
    before = shared_server.client().get("/v1/secrets").json()
    response = shared_server.client().put(f"/v1/secrets/{name}", json={"value": VALUE})

    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid"
    assert "secret names are" in response.json()["error"]["message"]
    assert shared_server.client().get("/v1/secrets").json() == before


def test_oversized_value_is_413_without_echo(shared_server: LiveServer) -> None:
    """A value over 8 KiB answers 413 with its size; the value is not echoed or stored."""
    big = "S" * (8 * 1024 + 1)
    response = shared_server.client().put("/v1/secrets/too_big", json={"value": big})
    exact = shared_server.client().put("/v1/secrets/just_fits", json={"value": "S" * 8192})

    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert "8193" in response.text and "SSSS" not in response.text
    assert exact.status_code == 201
    names = [i["name"] for i in shared_server.client().get("/v1/secrets").json()["items"]]
    assert "too_big" not in names


@pytest.mark.parametrize(
    "body", [{"value": 12345}, {"value": ""}, {"value": VALUE, "extra": 1}, [VALUE], VALUE]
)
def test_malformed_bodies_are_422_and_never_quote_the_value(
    shared_server: LiveServer, body: object
) -> None:
    """A body that is not {"value": "<non-empty string>"} answers 422 without echoing input."""
    response = shared_server.client().put("/v1/secrets/malformed", content=json.dumps(body))

    assert response.status_code == 422, response.text
    assert "12345" not in response.text
    _assert_no_value(response.text)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_non_admins_cannot_read_or_change_secrets_or_audit(
    shared_server: LiveServer, role: Role
) -> None:
    """Viewers and editors get 403 on secrets, tokens and the audit trail."""
    client = shared_server.client(role)
    responses = [
        client.get("/v1/secrets"),
        client.put("/v1/secrets/NOPE", json={"value": VALUE}),
        client.delete("/v1/secrets/NOPE"),
        client.get("/v1/audit"),
        client.get("/v1/tokens"),
        client.post("/v1/tokens", json={"role": "admin", "name": "escalate"}),
    ]
    assert [r.status_code for r in responses] == [403] * len(responses)
    assert {r.json()["error"]["code"] for r in responses} == {"forbidden"}


def test_editor_granting_unknown_secret_is_422_and_creates_nothing(
    shared_server: LiveServer,
) -> None:
    """Creating or updating a snippet that grants a missing secret answers 422 naming it."""
    editor = shared_server.client(Role.EDITOR)
    code = "def main(event):\n    return None\n"
    created = editor.post(
        "/v1/snippets", json={"name": "grants-ghost", "code": code, "secrets": ["GHOST"]}
    )
    shared_server.create_snippet("grants-later", code)
    updated = editor.put("/v1/snippets/grants-later", json={"secrets": ["GHOST", "ALSO_GHOST"]})

    assert created.status_code == 422 and created.json()["error"]["code"] == "unknown_secret"
    assert "GHOST" in created.json()["error"]["message"]
    assert updated.json()["error"]["details"] == {"secrets": ["ALSO_GHOST", "GHOST"]}
    assert editor.get("/v1/snippets/grants-ghost").status_code == 404
    assert editor.get("/v1/snippets/grants-later").json()["version"] == 1


def test_secret_printed_raised_or_returned_is_redacted_everywhere(server: LiveServer) -> None:
    """Logs, error, outputs, stored event and API answers hold [REDACTED:NAME], never the value."""
    _put(server, "LEAKY_TOKEN")
    created = server.create_snippet("leaky", LEAKY, secrets=["LEAKY_TOKEN"])
    token = created["hookToken"]

    ok = server.call_hook("leaky", action_payload("cb-ok", note=VALUE), token=token)
    failed = server.call_hook("leaky", action_payload("cb-fail", fail=True), token=token)
    dry = server.client(Role.EDITOR).post(
        "/v1/snippets/leaky/test", json={"event": action_payload(fail=True)}
    )
    listed = server.client(Role.VIEWER).get("/v1/executions", params={"snippet": "leaky"})
    shown = [
        server.client(Role.VIEWER).get(f"/v1/executions/{item['id']}").text
        for item in listed.json()["items"]
    ]

    assert ok.json()["outputFields"]["echo"] == "[REDACTED:LEAKY_TOKEN]"
    assert failed.json()["outputFields"]["hs_execution_state"] == "FAIL_CONTINUE"
    assert "[REDACTED:LEAKY_TOKEN]" in dry.json()["logs"]
    assert "[REDACTED:LEAKY_TOKEN]" in dry.json()["error"]["message"]
    assert len(shown) == 2 and all("[REDACTED:LEAKY_TOKEN]" in text for text in shown)
    for text in [ok.text, failed.text, dry.text, listed.text, *shown]:
        _assert_no_value(text)
    engine = create_engine_for_url(server.settings.database_url)
    with create_session_factory(engine)() as session:
        rows = session.scalars(select(Execution)).all()
        stored = repr([(r.event, r.logs, r.error, r.output_fields, r.attempt_log) for r in rows])
    engine.dispose()
    assert "REDACTED:LEAKY_TOKEN" in stored
    _assert_no_value(stored)


def test_tampered_secret_fails_the_call_with_a_precise_error(server: LiveServer) -> None:
    """A ciphertext changed in the database gives 500 secret_unreadable, never a garbage value."""
    _put(server, "TAMPERED")
    code = (
        "import os\ndef main(event):\n    return {'outputFields': {'v': os.getenv('TAMPERED')}}\n"
    )
    created = server.create_snippet("tampered", code, secrets=["TAMPERED"])
    engine = create_engine_for_url(server.settings.database_url)
    with create_session_factory(engine)() as session:
        row = session.get(Secret, "TAMPERED")
        assert row is not None
        flipped = row.ciphertext[:-1] + bytes([row.ciphertext[-1] ^ 0x80])
        session.execute(update(Secret).values(ciphertext=flipped))
        session.commit()
    engine.dispose()

    response = server.call_hook("tampered", action_payload("cb-t"), token=created["hookToken"])

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "secret_unreadable"
    assert "'TAMPERED' cannot be decrypted: it fails authentication" in response.text


def test_service_with_wrong_master_key_does_not_start(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    """A server whose master key is not the one the secrets use refuses to start, saying why."""
    first = MasterKey.generate().encoded()
    live = make_server(master_key=first)
    _put(live, "KEEP")
    settings = Settings.from_env(
        {
            "CODEHOOK_DATA_DIR": str(tmp_path),
            "CODEHOOK_DATABASE_URL": live.settings.database_url,
            "CODEHOOK_MASTER_KEY": MasterKey.generate().encoded(),
        }
    )
    with (
        pytest.raises(MasterKeyError, match="cannot decrypt the stored secrets"),
        TestClient(create_app(settings)),
    ):
        pass
