"""Snippet management end to end: create, show, versions, rollback, dry run, delete."""

from __future__ import annotations

from typing import Any

from runtime.auth import Role
from tests.fakes.hubspot import FakeHubSpot
from tests.runtime.live import LiveServer, ServerFactory, action_payload

V1 = "def main(event):\n    return {'outputFields': {'v': 1}}\n"
V2 = "def main(event):\n    return {'outputFields': {'v': 2}}\n"


def test_create_answers_201_with_version_hash_and_hook_url(shared_server: LiveServer) -> None:
    """Creating a snippet answers 201 with version 1, a content hash, its hook URL and token."""
    for secret in ("hstoken", "OpenAI_Key"):  # a snippet may only grant secrets that exist
        shared_server.client().put(f"/v1/secrets/{secret}", json={"value": "test-value"})
    created = shared_server.create_snippet(
        "lead-score",
        V1,
        inputFields=["email", {"name": "company", "required": True}],
        outputFields={"v": "number", "tier": {"type": "enumeration", "options": ["a", "b"]}},
        secrets=["hstoken", "OpenAI_Key"],
        timeoutSeconds=5,
        memoryMb=64,
        allowedHosts=["api.example.com"],
    )

    assert created["name"] == "lead-score" and created["version"] == 1
    assert len(created["contentHash"]) == 64
    assert created["hookUrl"] == f"{shared_server.url}/v1/hooks/lead-score"
    assert created["hookToken"].startswith("chh_")
    assert created["inputFields"] == [
        {"name": "email", "required": False},
        {"name": "company", "required": True},
    ]
    assert created["secrets"] == ["OpenAI_Key", "hstoken"]
    assert created["mode"] == "sync" and created["timeoutSeconds"] == 5
    shown = shared_server.client(Role.VIEWER).get("/v1/snippets/lead-score").json()
    assert shown["contentHash"] == created["contentHash"] and "hookToken" not in shown


def test_hook_url_uses_public_url_when_set(make_server: ServerFactory) -> None:
    """With CODEHOOK_PUBLIC_URL the hook URL is the external one."""
    server = make_server(public_url="https://hooks.example.com/")

    created = server.create_snippet("public", V1)

    assert created["hookUrl"] == "https://hooks.example.com/v1/hooks/public"


def test_update_makes_new_version_and_rollback_copies_old_one(server: LiveServer) -> None:
    """PUT makes version 2 with a new hash; rollback to 1 publishes version 3 equal to 1."""
    first = server.create_snippet("versioned", V1)
    editor = server.client(Role.EDITOR)
    token = first["hookToken"]

    updated = editor.put("/v1/snippets/versioned", json={"code": V2})
    ran_v2 = server.call_hook("versioned", action_payload(), token=token)
    same_again = editor.put("/v1/snippets/versioned", json={"code": V2})
    rolled = editor.post("/v1/snippets/versioned/rollback", json={"version": 1})
    ran_v3 = server.call_hook("versioned", action_payload(), token=token)
    versions = editor.get("/v1/snippets/versioned/versions").json()["items"]

    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2 and updated.json()["changed"] is True
    assert updated.json()["contentHash"] != first["contentHash"]
    assert ran_v2.json()["outputFields"]["v"] == 2
    assert same_again.json()["version"] == 2 and same_again.json()["changed"] is False
    assert rolled.json()["version"] == 3 and rolled.json()["code"] == V1
    assert rolled.json()["contentHash"] == first["contentHash"]
    assert ran_v3.json()["outputFields"]["v"] == 1
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[0]["rolledBackFrom"] == 1 and versions[0]["code"] == V1
    listed = server.client(Role.VIEWER).get("/v1/executions", params={"snippet": "versioned"})
    assert sorted(e["version"] for e in listed.json()["items"]) == [2, 3]


def test_update_keeps_settings_not_mentioned(shared_server: LiveServer) -> None:
    """A PUT that changes only the code keeps the current settings."""
    shared_server.client().put("/v1/secrets/hstoken", json={"value": "test-value"})
    shared_server.create_snippet("keeps", V1, timeoutSeconds=3, secrets=["hstoken"])

    updated = shared_server.client(Role.EDITOR).put("/v1/snippets/keeps", json={"code": V2})

    assert updated.json()["timeoutSeconds"] == 3 and updated.json()["secrets"] == ["hstoken"]


def test_rollback_to_unknown_version_is_404(shared_server: LiveServer) -> None:
    """Rolling back to a version that does not exist answers 404."""
    shared_server.create_snippet("no-v9", V1)

    response = shared_server.client(Role.EDITOR).post(
        "/v1/snippets/no-v9/rollback", json={"version": 9}
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_delete_hides_snippet_and_frees_its_name(server: LiveServer) -> None:
    """After DELETE the hook and GET answer 404, and the name can be used again."""
    token = server.create_snippet("short-lived", V1)["hookToken"]
    server.call_hook("short-lived", action_payload("ap-before-delete"), token=token)
    editor = server.client(Role.EDITOR)

    deleted = editor.delete("/v1/snippets/short-lived")
    hook = server.call_hook("short-lived", action_payload(), token=token)
    shown = editor.get("/v1/snippets/short-lived")
    again = editor.delete("/v1/snippets/short-lived")
    recreated = server.create_snippet("short-lived", V2)

    assert deleted.status_code == 204 and deleted.content == b""
    assert hook.status_code == 404 and hook.json()["error"]["code"] == "not_found"
    assert shown.status_code == 404 and again.status_code == 404
    assert recreated["version"] == 1 and recreated["hookToken"] != token
    history = editor.get("/v1/executions", params={"snippet": "short-lived"}).json()["items"]
    assert [e["callbackId"] for e in history] == ["ap-before-delete"]


def test_list_snippets_paginates_without_duplicates(shared_server: LiveServer) -> None:
    """GET /v1/snippets walks every snippet once through nextCursor."""
    for n in range(5):
        shared_server.create_snippet(f"page-{n}", V1)
    client = shared_server.client(Role.VIEWER)

    names: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/snippets", params=params).json()
        names += [item["name"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break

    assert len(names) == len(set(names))
    assert {f"page-{n}" for n in range(5)} <= set(names)
    assert names == sorted(names)


def test_dry_run_shows_run_and_would_write_without_writing(make_server: ServerFactory) -> None:
    """POST /test answers outputs, logs, duration, memory and wouldWrite; nothing is written."""
    with FakeHubSpot() as crm:
        server = make_server(hubspot_base_url=crm.url, hubspot_access_token="pat-test")
        server.create_snippet(
            "scorer",
            "def main(event):\n    print('scoring', event['inputFields']['email'])\n"
            "    return {'outputFields': {'score': 42, 'note': 'ok'}}\n",
            outputFields={"score": "number", "note": "string"},
            writeBack={"properties": {"score": "hs_lead_score"}},
        )
        event = action_payload(object_id=77, email="t@example.com")

        response = server.client(Role.EDITOR).post(
            "/v1/snippets/scorer/test", json={"event": event}
        )

        assert response.status_code == 200, response.text
        result = response.json()
        assert result["snippet"] == "scorer" and result["version"] == 1
        assert result["status"] == "success"
        assert result["outputFields"] == {"score": 42, "note": "ok"}
        assert result["logs"] == "scoring t@example.com\n"
        assert result["durationMs"] > 0 and result["memoryKb"] > 0
        assert result["error"] is None
        assert result["wouldWrite"] == {
            "objectType": "CONTACT",
            "objectId": 77,
            "properties": {"hs_lead_score": 42},
        }
        assert crm.requests == []
        listed = server.client(Role.VIEWER).get("/v1/executions", params={"snippet": "scorer"})
        assert listed.json()["items"] == []


def test_dry_run_reports_errors_with_line(shared_server: LiveServer) -> None:
    """A dry run of a failing snippet answers the error with its line, and no wouldWrite."""
    shared_server.create_snippet(
        "dry-fail",
        "def main(event):\n    raise ValueError('no email')\n",
        writeBack={"properties": {"x": "y"}},
    )

    result = (
        shared_server.client(Role.EDITOR)
        .post("/v1/snippets/dry-fail/test", json={"event": {}})
        .json()
    )

    assert result["status"] == "error"
    assert result["error"]["type"] == "ValueError" and result["error"]["line"] == 2
    assert result["wouldWrite"] is None


def test_async_mode_gets_the_longer_async_timeout_cap(shared_server: LiveServer) -> None:
    """mode: async may set timeoutSeconds up to the async cap (15 min); sync stays at its cap."""
    editor = shared_server.client(Role.EDITOR)

    sync = editor.post(
        "/v1/snippets", json={"name": "long-sync", "code": V1, "timeoutSeconds": 600}
    )
    created = editor.post(
        "/v1/snippets",
        json={"name": "long-async", "code": V1, "mode": "async", "timeoutSeconds": 600},
    )
    too_long = editor.post(
        "/v1/snippets",
        json={"name": "too-long", "code": V1, "mode": "async", "timeoutSeconds": 901},
    )

    assert sync.status_code == 422
    assert created.status_code == 201, created.text
    assert created.json()["mode"] == "async" and created.json()["timeoutSeconds"] == 600
    assert too_long.status_code == 422
    assert "900 for async snippets, got 901" in too_long.json()["error"]["message"]


def test_compile_error_is_422_with_every_issue_located(shared_server: LiveServer) -> None:
    """Code that does not compile answers 422 with line and column for each issue."""
    code = "import os\n\ndef main(event):\n    x = event.__class__\n    y = _private\n    return None\n"
    editor = shared_server.client(Role.EDITOR)

    response = editor.post("/v1/snippets", json={"name": "bad-code", "code": code})

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "compile_error"
    assert "line 4" in error["message"]
    lines = [(issue["line"], issue["column"]) for issue in error["details"]]
    assert len(lines) >= 2
    assert {line for line, _ in lines} >= {4, 5}
    assert all(isinstance(column, int) for _, column in lines)
    assert editor.get("/v1/snippets/bad-code").status_code == 404


def test_syntax_error_is_422_with_line_and_column(shared_server: LiveServer) -> None:
    """A syntax error answers 422 with the line and column of the mistake."""
    response = shared_server.client(Role.EDITOR).post(
        "/v1/snippets", json={"name": "syntax", "code": "def main(event)\n    return None\n"}
    )

    assert response.status_code == 422
    (issue,) = response.json()["error"]["details"]
    assert issue["line"] == 1 and issue["column"] is not None


def test_update_with_compile_error_keeps_current_version(shared_server: LiveServer) -> None:
    """A PUT whose code does not compile answers 422 and leaves the snippet at its version."""
    shared_server.create_snippet("stays", V1)
    editor = shared_server.client(Role.EDITOR)

    response = editor.put("/v1/snippets/stays", json={"code": "def main(:\n"})

    assert response.status_code == 422
    shown = editor.get("/v1/snippets/stays").json()
    assert shown["version"] == 1 and shown["code"] == V1
