"""Refused requests: the right status, an error body that says what to fix, nothing half-written."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from runtime.auth import Role
from tests.runtime.live import LiveServer, action_payload, v3_headers

CODE = "def main(event):\n    return None\n"


def _error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """Assert the status and the error shape; return the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    if code is not None:
        assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message
    return message


def _count(server: LiveServer, snippet: str) -> int:
    response = server.client(Role.VIEWER).get("/v1/executions", params={"snippet": snippet})
    return len(response.json()["items"])


@pytest.fixture(scope="module")
def target(shared_server: LiveServer) -> tuple[LiveServer, str]:
    """The shared server and the hook token of its snippet `target`."""
    token = shared_server.create_snippet("target", CODE)["hookToken"]
    return shared_server, token


def test_malformed_json_is_400(target: tuple[LiveServer, str]) -> None:
    """A hook or management body that is not JSON answers 400 bad_json; nothing is recorded."""
    server, token = target
    headers = {"Content-Type": "application/json", "X-Codehook-Token": token}

    hook = server.client(None).post("/v1/hooks/target", content=b"{not json", headers=headers)
    create = server.client(Role.EDITOR).post(
        "/v1/snippets", content=b'{"name": "x",', headers={"Content-Type": "application/json"}
    )

    assert "JSON" in _error(hook, 400, "bad_json")
    _error(create, 400, "bad_json")
    assert _count(server, "target") == 0


def test_wrong_content_type_is_415(target: tuple[LiveServer, str]) -> None:
    """A hook body that is not declared as JSON answers 415 naming the type received."""
    server, token = target
    body = json.dumps(action_payload()).encode()

    response = server.client(None).post(
        "/v1/hooks/target",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Codehook-Token": token},
    )

    assert "application/x-www-form-urlencoded" in _error(response, 415, "unsupported_media_type")
    assert _count(server, "target") == 0


def test_management_body_with_wrong_content_type_is_415(shared_server: LiveServer) -> None:
    """A snippet body sent as text/plain answers 415, not a confusing validation error."""
    response = shared_server.client(Role.EDITOR).post(
        "/v1/snippets",
        content=json.dumps({"name": "plain", "code": CODE}).encode(),
        headers={"Content-Type": "text/plain"},
    )

    _error(response, 415, "unsupported_media_type")
    assert shared_server.client(Role.VIEWER).get("/v1/snippets/plain").status_code == 404


def test_unknown_snippet_is_404(shared_server: LiveServer) -> None:
    """Show, update, test and delete of an unknown snippet answer 404 naming it."""
    editor = shared_server.client(Role.EDITOR)

    for method, path, body in [
        ("GET", "/v1/snippets/ghost", None),
        ("PUT", "/v1/snippets/ghost", {"code": CODE}),
        ("POST", "/v1/snippets/ghost/test", {"event": {}}),
        ("DELETE", "/v1/snippets/ghost", None),
    ]:
        assert "ghost" in _error(editor.request(method, path, json=body), 404, "not_found")


def test_unknown_fields_in_snippet_body_are_422(shared_server: LiveServer) -> None:
    """A misspelt setting answers 422 naming the field; nothing is created."""
    editor = shared_server.client(Role.EDITOR)

    response = editor.post("/v1/snippets", json={"name": "typo", "code": CODE, "timeoutSecs": 5})

    assert "timeoutSecs" in _error(response, 422, "invalid")
    assert editor.get("/v1/snippets/typo").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "types", "code": 42}, "code"),
        ({"name": "types", "code": CODE, "timeoutSeconds": "soon"}, "timeoutSeconds"),
        ({"name": "types", "code": CODE, "secrets": "hstoken"}, "secrets"),
        ({"name": "types", "code": CODE, "inputFields": {"a": 1}}, "inputFields"),
        ({"name": "types", "code": CODE, "outputFields": {"x": "colour"}}, "outputFields"),
        ({"name": "types", "code": CODE, "mode": "batch"}, "mode"),
        ({"name": "types", "code": CODE, "allowedHosts": ["http://x.io/path"]}, "allowedHosts"),
        ({"name": "types"}, "code"),
        ([], "body"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    shared_server: LiveServer, body: Any, field: str
) -> None:
    """A body whose values have the wrong type answers 422 naming the field at fault."""
    editor = shared_server.client(Role.EDITOR)

    response = editor.post("/v1/snippets", json=body)

    assert field in _error(response, 422, "invalid")
    assert editor.get("/v1/snippets/types").status_code == 404


def test_oversized_hook_body_is_413(target: tuple[LiveServer, str]) -> None:
    """A hook body over 1 MiB answers 413 stating the limit; nothing is recorded."""
    server, token = target
    body = json.dumps(action_payload(blob="x" * (1024 * 1024))).encode()

    response = server.client(None).post(
        "/v1/hooks/target",
        content=body,
        headers={"Content-Type": "application/json", "X-Codehook-Token": token},
    )

    assert str(1024 * 1024) in _error(response, 413, "too_large")
    assert _count(server, "target") == 0


def test_oversized_chunked_hook_body_is_413(target: tuple[LiveServer, str]) -> None:
    """A chunked hook body (no Content-Length) is cut off at 1 MiB with 413."""
    server, token = target

    def chunks() -> Any:
        for _ in range(20):
            yield b"x" * (64 * 1024)

    response = server.client(None).post(
        "/v1/hooks/target",
        content=chunks(),
        headers={"Content-Type": "application/json", "X-Codehook-Token": token},
    )

    _error(response, 413, "too_large")


@pytest.mark.parametrize(
    "tamper",
    ["body", "secret", "signature"],
)
def test_bad_v3_signature_is_401(target: tuple[LiveServer, str], tamper: str) -> None:
    """A v3 signature over another body, with another secret or garbled answers 401."""
    server, _ = target
    body = json.dumps(action_payload("ap-bad-sig")).encode()
    uri = f"{server.url}/v1/hooks/target"
    headers = v3_headers(uri, body, secret="another-secret") if tamper == "secret" else {}
    headers = headers or v3_headers(uri, body)
    if tamper == "signature":
        headers["X-HubSpot-Signature-v3"] = "AAAA" + headers["X-HubSpot-Signature-v3"][4:]
    sent = body.replace(b"614", b"615") if tamper == "body" else body

    response = server.client(None).post(
        "/v1/hooks/target", content=sent, headers={"Content-Type": "application/json", **headers}
    )

    assert "signature" in _error(response, 401, "bad_signature")
    assert _count(server, "target") == 0


@pytest.mark.parametrize(("age_seconds", "word"), [(301, "old"), (-400, "future")])
def test_stale_or_future_v3_timestamp_is_401(
    target: tuple[LiveServer, str], age_seconds: int, word: str
) -> None:
    """A correctly signed call dated outside the 5-minute window is refused as a replay."""
    server, _ = target
    body = json.dumps(action_payload("ap-replayed")).encode()
    stamp = int((time.time() - age_seconds) * 1000)
    headers = v3_headers(f"{server.url}/v1/hooks/target", body, timestamp_ms=stamp)

    response = server.client(None).post(
        "/v1/hooks/target", content=body, headers={"Content-Type": "application/json", **headers}
    )

    assert word in _error(response, 401, "bad_signature")


def test_v3_without_timestamp_is_401(target: tuple[LiveServer, str]) -> None:
    """A v3 signature without X-HubSpot-Request-Timestamp answers 401 naming the header."""
    server, _ = target
    body = json.dumps(action_payload()).encode()
    headers = v3_headers(f"{server.url}/v1/hooks/target", body)
    del headers["X-HubSpot-Request-Timestamp"]

    response = server.client(None).post(
        "/v1/hooks/target", content=body, headers={"Content-Type": "application/json", **headers}
    )

    assert "X-HubSpot-Request-Timestamp" in _error(response, 401, "bad_signature")


def test_hook_for_deleted_snippet_is_404(shared_server: LiveServer) -> None:
    """After DELETE, a signed hook call to the snippet answers 404."""
    shared_server.create_snippet("gone", CODE)
    shared_server.client(Role.EDITOR).delete("/v1/snippets/gone")

    response = shared_server.call_hook("gone", action_payload(), signed=True)

    _error(response, 404, "not_found")


@pytest.mark.parametrize(
    "name",
    ["UPPER", "x" * 64, "zürich", "-dash-first", "has space", "dot.name", ""],
)
def test_odd_snippet_names_are_refused_at_create(shared_server: LiveServer, name: str) -> None:
    """A name outside [a-z0-9][a-z0-9_-]{0,62} answers 422 quoting the pattern."""
    response = shared_server.client(Role.EDITOR).post(
        "/v1/snippets", json={"name": name, "code": CODE}
    )

    assert "name" in _error(response, 422, "invalid")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/snippets/..%2Fx",
        "/v1/snippets/UPPER",
        "/v1/snippets/" + "x" * 64,
        "/v1/snippets/z%C3%BC",
    ],
)
def test_odd_snippet_names_in_paths_are_404_or_422(shared_server: LiveServer, path: str) -> None:
    """Paths with odd snippet names never reach storage: 404 or 422 with the error shape."""
    client = shared_server.client(Role.EDITOR)

    for method in ("GET", "DELETE"):
        response = client.request(method, path)
        assert response.status_code in (404, 422), (method, path, response.status_code)
        _error(response, response.status_code)
    hook = shared_server.call_hook("", action_payload(), path=path.replace("snippets", "hooks"))
    assert hook.status_code in (404, 422)
    _error(hook, hook.status_code)


def test_snippet_name_that_exists_is_409(shared_server: LiveServer) -> None:
    """Creating a snippet whose name is taken answers 409 and keeps the original."""
    shared_server.create_snippet("taken", CODE)

    response = shared_server.client(Role.EDITOR).post(
        "/v1/snippets", json={"name": "taken", "code": CODE + "# other\n"}
    )

    assert "taken" in _error(response, 409, "conflict")
    shown = shared_server.client(Role.VIEWER).get("/v1/snippets/taken").json()
    assert shown["code"] == CODE


def test_timeout_above_cap_is_422_quoting_value(shared_server: LiveServer) -> None:
    """timeoutSeconds over the server's cap answers 422 quoting the value and the cap."""
    response = shared_server.client(Role.EDITOR).post(
        "/v1/snippets", json={"name": "too-long", "code": CODE, "timeoutSeconds": 600}
    )

    message = _error(response, 422)
    assert "600" in message and "60" in message and "timeoutSeconds" in message


def test_memory_above_cap_is_422_quoting_value(shared_server: LiveServer) -> None:
    """memoryMb over the server's cap answers 422 quoting the value."""
    response = shared_server.client(Role.EDITOR).post(
        "/v1/snippets", json={"name": "too-big", "code": CODE, "memoryMb": 100000}
    )

    assert "100000" in _error(response, 422)


@pytest.mark.parametrize("secret", ["1st", "has-dash", "with space", "x" * 65, ""])
def test_secret_with_bad_name_is_422(shared_server: LiveServer, secret: str) -> None:
    """Secret names outside [A-Za-z_][A-Za-z0-9_]{0,63} answer 422 naming the field."""
    response = shared_server.client(Role.EDITOR).post(
        "/v1/snippets", json={"name": "bad-secret", "code": CODE, "secrets": [secret]}
    )

    assert "secrets" in _error(response, 422, "invalid")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([1, 2], "JSON object"),
        ({"callbackId": 7}, "callbackId"),
        ({"object": {"objectId": True}}, "object.objectId"),
        ({"inputFields": "email"}, "inputFields"),
        ({"origin": {"portalId": "abc"}}, "origin.portalId"),
    ],
)
def test_hook_payload_of_wrong_shape_is_422(
    target: tuple[LiveServer, str], payload: Any, field: str
) -> None:
    """A hook body that is JSON but not a HubSpot payload answers 422 naming the field."""
    server, token = target

    response = server.call_hook("target", payload, token=token)

    assert field in _error(response, 422, "invalid_payload")
    assert _count(server, "target") == 0


def test_oversized_idempotency_key_is_422(target: tuple[LiveServer, str]) -> None:
    """An Idempotency-Key over 255 characters answers 422; nothing is recorded."""
    server, token = target

    response = server.call_hook(
        "target", action_payload(), token=token, headers={"Idempotency-Key": "k" * 256}
    )

    assert "Idempotency-Key" in _error(response, 422)
    assert _count(server, "target") == 0


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"callbackId": "ap-nan", "inputFields": {"v": NaN}}', "NaN"),
        (b'{"callbackId": "ap-inf", "inputFields": {"v": -Infinity}}', "Infinity"),
        (b'{"callbackId": "ap-sur", "inputFields": {"v": "\\ud800"}}', "surrogate"),
    ],
)
def test_non_standard_json_is_400_on_both_databases(
    server: LiveServer, raw: bytes, says: str
) -> None:
    """NaN, Infinity and lone surrogates are refused with 400 in hook and snippet bodies."""
    token = server.create_snippet("strict", CODE)["hookToken"]
    json_type = {"Content-Type": "application/json"}

    hook = server.client(None).post(
        "/v1/hooks/strict", content=raw, headers={**json_type, "X-Codehook-Token": token}
    )
    test = server.client(Role.EDITOR).post(
        "/v1/snippets/strict/test", content=b'{"event": ' + raw + b"}", headers=json_type
    )

    assert says in _error(hook, 400, "bad_json")
    assert says in _error(test, 400, "bad_json")
    assert _count(server, "strict") == 0


def test_nul_characters_are_refused_or_stored_safely(server: LiveServer) -> None:
    """NUL in a URL is 400, in a callbackId 422; a snippet printing NUL is still recorded."""
    token = server.create_snippet(
        "nul",
        "def main(event):\n    print('a\\x00b')\n    return {'outputFields': {'x': 'c\\x00'}}\n",
    )["hookToken"]
    viewer = server.client(Role.VIEWER)

    in_query = viewer.get("/v1/executions", params={"snippet": "a\x00"})
    in_path = viewer.get("/v1/executions/a%00b")
    in_callback = server.call_hook("nul", {"callbackId": "ap\x00"}, token=token)
    printed = server.call_hook("nul", action_payload("ap-nul"), token=token)

    assert "NUL" in _error(in_query, 400) and "NUL" in _error(in_path, 400)
    assert "callbackId" in _error(in_callback, 422, "invalid_payload")
    assert printed.json()["outputFields"] == {"x": "c\x00", "hs_execution_state": "SUCCESS"}
    (listed,) = viewer.get("/v1/executions", params={"snippet": "nul"}).json()["items"]
    record = viewer.get(f"/v1/executions/{listed['id']}").json()
    assert record["status"] == "success" and record["logs"] == "a\ufffdb\n"


def test_unencodable_error_message_still_answers_and_records(server: LiveServer) -> None:
    """An exception message holding a lone surrogate answers FAIL_CONTINUE and is recorded."""
    token = server.create_snippet(
        "surrogate", "def main(event):\n    raise ValueError(chr(0xD800) + ' bad')\n"
    )["hookToken"]

    response = server.call_hook("surrogate", action_payload("ap-sur"), token=token)
    listed = server.client(Role.VIEWER).get("/v1/executions", params={"snippet": "surrogate"})

    outputs = response.json()["outputFields"]
    assert outputs["errorCode"] == "SNIPPET_ERROR" and "bad (line 2)" in outputs["errorMessage"]
    assert [e["status"] for e in listed.json()["items"]] == ["error"]


def test_numbers_beyond_database_range_are_422(server: LiveServer) -> None:
    """A rollback version past 32 bits and a since with no UTC equivalent answer 422."""
    server.create_snippet("ranged", CODE)
    editor = server.client(Role.EDITOR)

    rollback = editor.post("/v1/snippets/ranged/rollback", json={"version": 2**40})
    since = editor.get("/v1/executions", params={"since": "0001-01-01T00:00:00+14:00"})

    assert "version" in _error(rollback, 422, "invalid")
    assert "0001-01-01T00:00:00+14:00" in _error(since, 422, "invalid")
