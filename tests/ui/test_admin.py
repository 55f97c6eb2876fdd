"""Admin pages in a browser: secrets (add, rotate, never shown), tokens, audit; viewers read only."""

from __future__ import annotations

from playwright.sync_api import expect

from runtime.auth import Role
from tests.runtime.live import LiveServer
from tests.ui.conftest import NARROW, Login, api_json, shot

SNIPPET = """import os

def main(event):
    return {"outputFields": {"has_key": os.getenv("CRM_KEY") is not None}}
"""


def test_admin_adds_and_rotates_a_secret_whose_value_is_never_shown(
    login: Login, console: LiveServer
) -> None:
    """A secret is added and rotated from the page; its values appear nowhere in the page."""
    page = login(Role.ADMIN)
    page.click("#nav >> text=Secrets")
    page.fill("[aria-label='Secret name']", "CRM_KEY")
    page.fill("[aria-label='Secret value']", "first-value-123")
    page.click("text=Add secret")
    expect(page.locator("tr[data-secret=CRM_KEY]")).to_be_visible()
    before = page.locator("tr[data-secret=CRM_KEY] .updated").inner_text()
    page.fill("[aria-label='New value for CRM_KEY']", "second-value-456")
    page.click("tr[data-secret=CRM_KEY] >> text=Rotate")
    expect(page.locator(".notice")).to_contain_text("Rotated CRM_KEY")
    html = page.content()
    assert "first-value-123" not in html and "second-value-456" not in html
    shot(page, "07-secrets")
    listing = api_json(console.client(Role.ADMIN).get("/v1/secrets"))["items"]
    assert [s["name"] for s in listing] == ["CRM_KEY"]
    assert before  # the row showed an update time before the rotation


def test_editor_grants_an_existing_secret_from_the_list(login: Login, console: LiveServer) -> None:
    """Secret grants are checkboxes of the names that exist; a saved grant reaches the snippet."""
    admin = console.client(Role.ADMIN)
    api_json(admin.put("/v1/secrets/GRANT_ME", json={"value": "s3cret-value"}))
    console.create_snippet("grants", SNIPPET.replace("CRM_KEY", "GRANT_ME"))
    page = login(Role.EDITOR)
    page.goto(f"{console.url}/ui/#/snippets/grants")
    page.check("input[type=checkbox][value=GRANT_ME]")
    page.keyboard.press("Control+s")
    expect(page.locator(".notice")).to_contain_text("Saved version 2")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".test-panel")).to_contain_text('"has_key": true')


def test_admin_sees_tokens_and_the_audit_trail(login: Login, console: LiveServer) -> None:
    """Tokens list the test tokens and a created one is shown once; the audit trail lists logins."""
    page = login(Role.ADMIN)
    page.click("#nav >> text=Tokens")
    expect(page.locator("tbody")).to_contain_text("test-viewer")
    page.fill("[aria-label='Token name']", "ci-bot")
    page.select_option("[aria-label='Role']", "viewer")
    page.click("text=Create token")
    expect(page.locator(".new-token")).to_contain_text("chk_")
    shot(page, "08-tokens")
    page.click("#nav >> text=Audit")
    expect(page.locator("tbody")).to_contain_text("console.login")
    expect(page.locator("tbody")).to_contain_text("token.created")
    shot(page, "09-audit")


def test_viewer_sees_no_edit_controls_and_the_api_refuses_edits(
    login: Login, console: LiveServer
) -> None:
    """A viewer gets a read-only editor without Save/Test; a forged save is refused with 403."""
    console.create_snippet("readonly", SNIPPET)
    page = login(Role.VIEWER)
    expect(page.locator("text=New snippet")).to_have_count(0)
    expect(page.locator("#nav >> text=Secrets")).to_have_count(0)
    page.goto(f"{console.url}/ui/#/snippets/readonly")
    expect(page.locator("main")).to_contain_text("Read only")
    expect(page.locator("button:has-text('Save')")).to_have_count(0)
    expect(page.locator("button:has-text('Test')")).to_have_count(0)
    expect(page.locator(".cm-content")).to_have_attribute("contenteditable", "false")
    expect(page.locator("fieldset.settings input").first).to_be_disabled()
    expect(page.locator("button:has-text('Add input')")).to_be_disabled()
    shot(page, "10-viewer-editor")
    status = page.evaluate(
        """async () => {
            const csrf = document.cookie.split('; ').find(c => c.startsWith('codehook_csrf=')).split('=')[1];
            const r = await fetch('/v1/snippets/readonly', {method: 'PUT', headers: {
                'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: '{"code": "x = 1"}'});
            return r.status;
        }"""
    )
    assert status == 403


def test_pages_fit_a_400_pixel_wide_window(login: Login, console: LiveServer) -> None:
    """At 400 px the list, the editor and the executions table fit without a page-wide scrollbar."""
    console.create_snippet("narrow", SNIPPET)
    page = login(Role.ADMIN, viewport=NARROW)
    for hash_, name in [
        ("#/snippets", "11-narrow-snippets"),
        ("#/snippets/narrow", "12-narrow-editor"),
        ("#/executions", "13-narrow-executions"),
    ]:
        page.goto(f"{console.url}/ui/{hash_}")
        page.wait_for_selector("main h1")
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, f"{hash_} is {width} px wide"
        shot(page, name)
