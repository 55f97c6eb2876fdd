"""The editor in a real browser: inline compile errors, save and test from the keyboard."""

from __future__ import annotations

from playwright.sync_api import expect

from runtime.auth import Role
from tests.runtime.live import LiveServer
from tests.ui.conftest import Login, api_json, shot, type_code

BROKEN = """import os

def main(event)
    print("hello", event["inputFields"].get("email"))
    return {"outputFields": {"greeting": "hi"}}
"""
FIXED = BROKEN.replace("def main(event)", "def main(event):")


def test_login_refuses_a_wrong_token_opens_snippets_and_logs_out(
    login: Login, console: LiveServer, browser
) -> None:
    """A wrong token stays on the login form with a message; a real one lands on Snippets; logout ends it."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{console.url}/ui/")
    expect(page).to_have_url(f"{console.url}/ui/login")
    page.fill("#token", "chk_not-a-real-token")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("not valid")
    shot(page, "01-login")
    context.close()
    page = login(Role.EDITOR)
    expect(page.locator("h1")).to_have_text("Snippets")
    page.click("text=Log out")
    expect(page).to_have_url(f"{console.url}/ui/login")
    page.goto(f"{console.url}/ui/")
    expect(page).to_have_url(f"{console.url}/ui/login")


def test_editor_marks_a_compile_error_at_its_line_then_saves_and_tests(login: Login) -> None:
    """Pasted code with a syntax error is marked on line 3; fixed, Ctrl-S saves and Ctrl-Enter tests."""
    page = login(Role.EDITOR)
    page.click("text=New snippet")
    page.fill("[aria-label='Snippet name']", "greeter")
    type_code(page, BROKEN)
    third_line = page.locator(".cm-content .cm-line").nth(2)
    expect(third_line.locator(".cm-lintRange-error")).to_have_count(1)
    expect(page.locator(".issues li").first).to_contain_text("line 3")
    shot(page, "02-editor-compile-error")

    type_code(page, FIXED)
    expect(page.locator(".check")).to_have_text("compiles")
    page.click("text=Add mapping")
    page.fill("[aria-label='Output field']", "greeting")
    page.fill("[aria-label='CRM property']", "hs_greeting")
    expect(page.locator(".issues li")).to_have_count(0)
    page.keyboard.press("Control+s")
    expect(page.locator("h1")).to_have_text("greeter")
    expect(page.locator(".badge").first).to_have_text("v1")

    page.click(".cm-content")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".test-status")).to_have_text("success")
    expect(page.locator(".test-logs")).to_contain_text("hello ada@example.com")
    expect(page.locator(".test-duration")).to_contain_text("ms")
    expect(page.locator(".test-panel")).to_contain_text('"hs_greeting": "hi"')
    shot(page, "03-editor-test")


def test_keyboard_save_works_from_a_settings_field_and_test_needs_no_mouse(
    login: Login, console: LiveServer
) -> None:
    """Ctrl-S from a settings input saves a new version; Ctrl-Enter there runs the test."""
    console.create_snippet("keyboard", FIXED)
    page = login(Role.EDITOR)
    page.goto(f"{console.url}/ui/#/snippets/keyboard")
    page.get_by_label("Timeout (s)").focus()
    page.keyboard.type("15")
    page.keyboard.press("Control+s")
    expect(page.locator(".notice")).to_contain_text("Saved version 2")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".test-status")).to_have_text("success")
    assert (
        api_json(console.client(Role.EDITOR).get("/v1/snippets/keyboard"))["timeoutSeconds"] == 15
    )
