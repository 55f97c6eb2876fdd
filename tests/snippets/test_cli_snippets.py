"""`codehook snippets push|list` against the live service, and the manifest's consistency."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from runtime.auth import Role
from runtime.cli import main as codehook
from tests.snippets.conftest import SNIPPETS, Service, manifest

SETTINGS = ("inputFields", "outputFields", "secrets", "timeoutSeconds", "allowedHosts", "writeBack")


def write_manifest(folder: Path, *entries: dict[str, Any], code: str = "") -> Path:
    for entry in entries:
        (folder / entry["file"]).write_text(code or "def main(event):\n    return None\n")
    (folder / "manifest.json").write_text(json.dumps({"snippets": list(entries)}))
    return folder


def push(service: Service, folder: Path, *extra: str) -> int:
    return codehook(
        ["snippets", "push", str(folder), "--url", service.server.url,
         "--token", service.server.tokens[Role.EDITOR], *extra]
    )  # fmt: skip


def test_pushed_snippets_carry_their_manifest_settings(service: Service) -> None:
    """Every reference snippet is published with the code and settings its manifest declares."""
    client = service.server.client(Role.EDITOR)
    for name, entry in manifest().items():
        view = client.get(f"/v1/snippets/{name}").json()
        assert view["code"] == (SNIPPETS / entry["file"]).read_text()
        assert view["outputFields"] == entry["outputFields"]
        assert view["secrets"] == sorted(entry["secrets"])
        assert view["allowedHosts"] == entry["allowedHosts"]
        assert view["writeBack"] == entry.get("writeBack")
        assert view["inputFields"] == entry["inputFields"]


def test_pushing_again_reports_unchanged_with_hook_urls(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second push of the same folder publishes nothing new and prints each hook URL."""
    assert push(service, SNIPPETS) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(manifest())
    for line, name in zip(lines, manifest(), strict=True):
        assert re.fullmatch(
            rf"unchanged {name} v1  hook: {service.server.url}/v1/hooks/{name}", line
        )


def test_push_creates_then_updates_a_changed_snippet(
    service: Service, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new name is created (v1); changed code or settings publish v2, leaving-out resets."""
    entry = {
        "name": "cli-demo",
        "file": "demo.py",
        "outputFields": {"n": "number"},
        "timeoutSeconds": 5,
    }
    write_manifest(tmp_path, entry)
    assert push(service, tmp_path) == 0
    assert capsys.readouterr().out.startswith("created   cli-demo v1  hook: ")
    write_manifest(
        tmp_path, {"name": "cli-demo", "file": "demo.py"}, code="def main(event):\n    return {}\n"
    )
    assert push(service, tmp_path) == 0
    assert capsys.readouterr().out.startswith("updated   cli-demo v2  hook: ")
    view = service.server.client(Role.EDITOR).get("/v1/snippets/cli-demo").json()
    assert (view["outputFields"], view["timeoutSeconds"]) == ({}, None)


def test_push_reports_a_compile_error_with_its_line_and_goes_on(
    service: Service, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A snippet that does not compile is refused with its line; the others are still pushed."""
    write_manifest(tmp_path, {"name": "cli-ok", "file": "ok.py"})
    (tmp_path / "bad.py").write_text("def main(event):\n    return {\n")
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["snippets"].insert(0, {"name": "cli-bad", "file": "bad.py"})
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    assert push(service, tmp_path) == 1
    captured = capsys.readouterr()
    assert "cli-bad: refused: the snippet does not compile" in captured.err
    assert "line 2" in captured.err
    assert "created   cli-ok v1" in captured.out


@pytest.mark.parametrize(
    ("manifest_text", "message"),
    [
        ('{"snippets": [{"name": "x", "file": "x.py", "timeout": 3}]}', "unknown keys ['timeout']"),
        ('{"snippets": [{"name": "x", "file": "missing.py"}]}', "cannot read"),
        ('{"snippets": {}}', "must hold an object with a 'snippets' list"),
        ("not json", "cannot read"),
    ],
    ids=["unknown-key", "missing-file", "not-a-list", "not-json"],
)
def test_bad_manifest_is_a_usage_error(
    service: Service,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    manifest_text: str,
    message: str,
) -> None:
    """A manifest problem stops the push before anything is sent, with exit status 2."""
    (tmp_path / "x.py").write_text("def main(event):\n    return None\n")
    (tmp_path / "manifest.json").write_text(manifest_text)
    assert push(service, tmp_path) == 2
    assert message in capsys.readouterr().err


def test_push_needs_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --token or CODEHOOK_TOKEN the push is a usage error."""
    monkeypatch.delenv("CODEHOOK_TOKEN", raising=False)
    assert codehook(["snippets", "push", str(SNIPPETS), "--url", "http://127.0.0.1:9"]) == 2
    assert "pass --token or set CODEHOOK_TOKEN" in capsys.readouterr().err


def test_token_and_url_come_from_the_environment(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CODEHOOK_TOKEN and CODEHOOK_URL stand in for --token and --url."""
    monkeypatch.setenv("CODEHOOK_TOKEN", service.server.tokens[Role.VIEWER])
    monkeypatch.setenv("CODEHOOK_URL", service.server.url)
    assert codehook(["snippets", "list"]) == 0
    out = capsys.readouterr().out
    for name in manifest():
        assert f"{service.server.url}/v1/hooks/{name}" in out


def test_a_refused_token_stops_the_push(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """A viewer token cannot publish: the push stops at once with exit status 1."""
    code = codehook(
        ["snippets", "push", str(SNIPPETS), "--url", service.server.url,
         "--token", service.server.tokens[Role.VIEWER]]
    )  # fmt: skip
    assert code == 1
    assert "the service refused the token (403)" in capsys.readouterr().err


def test_every_sample_event_runs_in_a_dry_run(service: Service) -> None:
    """Each snippet's sample events succeed in the service's dry run (fakes seeded to match)."""
    service.availability.reply([{"ownerId": "881", "email": "rep@example.com"}])
    commission = json.loads((SNIPPETS / "events/commission.json").read_text())
    service.hubspot.add_object(
        "deals", {"amount": "64000"}, object_id=commission["object"]["objectId"]
    )
    client = service.server.client(Role.EDITOR)
    for name, entry in manifest().items():
        for event_file in entry["events"]:
            event = json.loads((SNIPPETS / event_file).read_text())
            response = client.post(f"/v1/snippets/{name}/test", json={"event": event})
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "success", (event_file, response.json()["error"])


def test_every_snippet_header_documents_its_fields_and_secrets() -> None:
    """The comment a user pastes with the code names every declared input, output and secret."""
    for entry in manifest().values():
        header = (SNIPPETS / entry["file"]).read_text().split("\nimport", 1)[0]
        names = (
            [f["name"] for f in entry["inputFields"]]
            + list(entry["outputFields"])
            + entry["secrets"]
        )
        for name in names:
            assert re.search(rf"#\s+{name}\b", header), (entry["file"], name)
        assert set(entry) >= {"name", "file", "events", *SETTINGS} - {"writeBack"}
