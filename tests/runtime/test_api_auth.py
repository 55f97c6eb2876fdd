"""API tokens on the management endpoints: 401 without a valid token, 403 for a weaker role."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.auth import Role
from tests.runtime.live import LiveServer

CODE = "def main(event):\n    return None\n"


@pytest.fixture(scope="module")
def roles_server(shared_server: LiveServer) -> LiveServer:
    """The shared server with one snippet, `guarded`, to act on."""
    shared_server.create_snippet("guarded", CODE)
    return shared_server


def _error(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"code", "message"} <= set(error) and error["message"]
    return error


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer chk_not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "unknown", "basic", "empty"],
)
def test_missing_or_bad_token_is_401(roles_server: LiveServer, headers: dict[str, str]) -> None:
    """Without a valid Bearer token every /v1 management call answers 401 with the error shape."""
    client = roles_server.client(None, headers=headers)

    for method, path in [
        ("GET", "/v1/snippets"),
        ("GET", "/v1/snippets/guarded"),
        ("GET", "/v1/executions"),
        ("DELETE", "/v1/snippets/guarded"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert _error(response.json())["code"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_viewer_can_read_but_not_see_hook_token(roles_server: LiveServer) -> None:
    """A viewer lists and shows snippets and executions but never sees the hook token."""
    viewer = roles_server.client(Role.VIEWER)

    listed = viewer.get("/v1/snippets")
    shown = viewer.get("/v1/snippets/guarded")

    assert listed.status_code == 200 and shown.status_code == 200
    assert all("hookToken" not in item for item in listed.json()["items"])
    assert "hookToken" not in shown.json()
    assert viewer.get("/v1/executions").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/snippets", {"name": "viewer-made", "code": CODE}),
        ("PUT", "/v1/snippets/guarded", {"code": CODE + "\n"}),
        ("POST", "/v1/snippets/guarded/test", {"event": {}}),
        ("POST", "/v1/snippets/guarded/hook-token", None),
        ("POST", "/v1/snippets/guarded/rollback", {"version": 1}),
        ("GET", "/v1/snippets/guarded/versions", None),
        ("DELETE", "/v1/snippets/guarded", None),
    ],
)
def test_viewer_is_refused_editor_actions_with_403(
    roles_server: LiveServer, method: str, path: str, body: Any
) -> None:
    """A viewer token gets 403 naming the role needed for every editor action; nothing changes."""
    viewer = roles_server.client(Role.VIEWER)

    response = viewer.request(method, path, json=body)

    assert response.status_code == 403
    error = _error(response.json())
    assert error["code"] == "forbidden" and "editor" in error["message"]
    assert viewer.get("/v1/snippets/guarded").json()["version"] == 1
    assert viewer.get("/v1/snippets/viewer-made").status_code == 404


def test_editor_and_admin_see_hook_token_and_may_edit(roles_server: LiveServer) -> None:
    """Editors and admins see hookToken and may create, test and delete."""
    for role in (Role.EDITOR, Role.ADMIN):
        client = roles_server.client(role)
        name = f"made-by-{role.value}"
        assert "hookToken" in client.get("/v1/snippets/guarded").json()
        assert client.post("/v1/snippets", json={"name": name, "code": CODE}).status_code == 201
        assert client.post(f"/v1/snippets/{name}/test", json={"event": {}}).status_code == 200
        assert client.delete(f"/v1/snippets/{name}").status_code == 204


def test_ops_endpoints_need_no_token(roles_server: LiveServer) -> None:
    """healthz, readyz and metrics answer without a token (they are for the platform)."""
    client = roles_server.client(None)

    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path
