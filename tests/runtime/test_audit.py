"""The audit trail: every admin/editor action appended, filtered and paged; never changed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from runtime.auth import Role
from runtime.cli._store import CliActor
from runtime.db import audit
from tests.runtime.live import LiveServer

CODE = "def main(event):\n    return None\n"
V2 = "def main(event):\n    return {'outputFields': {'v': 2}}\n"


def test_admin_and_editor_actions_are_recorded_in_order(server: LiveServer) -> None:
    """Secrets, tokens and snippet changes each append one row with actor, action and target."""
    admin, editor = server.client(), server.client(Role.EDITOR)
    admin.put("/v1/secrets/API_KEY", json={"value": "s3cr3t-value-1"})
    admin.put("/v1/secrets/API_KEY", json={"value": "s3cr3t-value-2"})
    made = admin.post("/v1/tokens", json={"role": "viewer", "name": "dashboard"}).json()
    admin.delete(f"/v1/tokens/{made['id']}")
    server.create_snippet("audited", CODE, secrets=["API_KEY"])
    editor.put("/v1/snippets/audited", json={"code": V2})
    editor.post("/v1/snippets/audited/rollback", json={"version": 1})
    editor.post("/v1/snippets/audited/hook-token")
    editor.delete("/v1/snippets/audited")
    admin.delete("/v1/secrets/API_KEY")

    items = admin.get("/v1/audit", params={"limit": 200}).json()["items"]

    assert [(i["action"], i["target"]) for i in reversed(items)] == [
        ("secret.created", "API_KEY"),
        ("secret.rotated", "API_KEY"),
        ("token.created", str(made["id"])),
        ("token.revoked", str(made["id"])),
        ("snippet.created", "audited"),
        ("snippet.updated", "audited"),
        ("snippet.rolled_back", "audited"),
        ("snippet.hook_token_rotated", "audited"),
        ("snippet.deleted", "audited"),
        ("secret.deleted", "API_KEY"),
    ]
    assert items[-1]["actor"]["name"] == "test-admin" and items[-1]["actor"]["role"] == "admin"
    assert items[4]["actor"] == {
        "id": items[4]["actor"]["id"],
        "name": "test-editor",
        "role": "editor",
    }
    assert "s3cr3t-value" not in str(items) and made["token"] not in str(items)


def test_audit_filters_and_cursor_pages(shared_server: LiveServer) -> None:
    """actor, action (prefix), target and time filters narrow the list; cursors walk it."""
    admin = shared_server.client()
    for index in range(5):
        admin.put(f"/v1/secrets/PAGED_{index}", json={"value": f"value-number-{index}"})
    admin.delete("/v1/secrets/PAGED_0")

    def fetch(**params: object) -> list[dict[str, object]]:
        items, cursor = [], None
        while True:
            paging = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
            page = admin.get("/v1/audit", params={**params, **paging}).json()
            items.extend(page["items"])
            cursor = page["nextCursor"]
            if cursor is None:
                return items

    created = fetch(action="secret.created", actor="test-admin")
    assert [i["target"] for i in created if str(i["target"]).startswith("PAGED_")] == [
        f"PAGED_{n}" for n in range(4, -1, -1)
    ]
    assert [i["action"] for i in fetch(target="PAGED_0")] == ["secret.deleted", "secret.created"]
    assert {i["action"] for i in fetch(action="secret", target="PAGED_0")} == {
        "secret.created",
        "secret.deleted",
    }
    assert fetch(since="2999-01-01T00:00:00Z") == []
    naive = admin.get("/v1/audit", params={"since": "2025-01-01T00:00:00"})
    assert naive.status_code == 422 and "time zone" in naive.text
    assert admin.get("/v1/audit", params={"cursor": "garbage"}).status_code == 400


def test_tokens_api_lists_last_used_and_never_values(shared_server: LiveServer) -> None:
    """GET /v1/tokens has roles and lastUsedAt; POST shows the new token once; DELETE revokes."""
    admin = shared_server.client()
    made = admin.post("/v1/tokens", json={"role": "editor", "name": "ci"})
    new_token = made.json()["token"]
    used = shared_server.client(None, headers={"Authorization": f"Bearer {new_token}"})
    assert used.get("/v1/snippets").status_code == 200

    listed = admin.get("/v1/tokens").json()["items"]
    revoked = admin.delete(f"/v1/tokens/{made.json()['id']}")
    unknown = admin.delete("/v1/tokens/999999")

    assert made.status_code == 201 and made.json()["role"] == "editor"
    entry = next(t for t in listed if t["name"] == "ci")
    assert entry["lastUsedAt"] is not None and "token" not in entry
    assert new_token not in str(listed)
    assert revoked.status_code == 204 and unknown.status_code == 404
    assert used.get("/v1/snippets").status_code == 401
    assert admin.post("/v1/tokens", json={"role": "root", "name": "x"}).status_code == 422


def test_audit_rows_cannot_be_updated_or_deleted(session: Session, engine: Engine) -> None:
    """The database itself refuses UPDATE and DELETE on the audit table (triggers)."""
    audit.record(session, actor=CliActor(id=None, name="cli:test"), action="x.done", target="t")

    for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
        with engine.connect() as connection, pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(statement))
    assert [row.action for row in audit.list_entries(session).items] == ["x.done"]
