"""Fixtures: a live Codehook server, Debian's chromium driven by Playwright, logged-in pages."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from runtime.auth import Role
from tests.runtime.live import LiveServer, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = os.environ.get("CODEHOOK_TEST_CHROMIUM", "/usr/bin/chromium")
# No background traffic (this machine's network is closed), no GPU, no setuid sandbox (tests
# run as root). Playwright adds --headless and a fresh, empty --user-data-dir of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 400, "height": 800}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Debian chromium for the run; each test opens its own context (cookies)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"Debian's chromium is not installed at {CHROMIUM}: `apt-get install -y chromium` "
            "(scripts/test installs it when it can)"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright comes with the dev extra: pip install -e '.[dev]'"
    )
    with sync_api.sync_playwright() as playwright:
        # Never a downloaded browser: Playwright drives the system's chromium.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One SQLite-backed server for a test module; tests use distinct snippet names."""
    data = tmp_path_factory.mktemp("console")
    with serve(data, f"sqlite:///{data / 'codehook.db'}") as live:
        yield live


Login = Callable[..., "Page"]


@pytest.fixture
def login(browser: Browser, console: LiveServer) -> Iterator[Login]:
    """Log in through the form, in a fresh browser context, with the API token of `role`."""
    contexts: list[BrowserContext] = []
    pages: list[tuple[Page, list[str]]] = []

    def open_as(role: Role = Role.EDITOR, viewport: dict[str, int] = DESKTOP) -> Page:
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        pages.append((page, errors))
        page.goto(f"{console.url}/ui/")
        page.fill("#token", console.tokens[role])
        page.click("button[type=submit]")
        page.wait_for_selector(f"#who:has-text('{role.value}')")
        return page

    yield open_as
    for context in contexts:
        context.close()
    # A script error on any page fails the test that opened it.
    assert [errors for _, errors in pages if errors] == []


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as test-output/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def type_code(page: Page, code: str) -> None:
    """Replace the editor's code as a paste would (no auto-indent on the way in)."""
    page.click(".cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)


def api_json(response: Any) -> Any:
    assert response.status_code < 400, response.text
    return response.json()
