"""Versions (diff, rollback) and executions (filters, detail with the error line) in a browser."""

from __future__ import annotations

from playwright.sync_api import expect

from runtime.auth import Role
from tests.runtime.live import LiveServer, action_payload
from tests.ui.conftest import Login, api_json, shot

V1 = """def main(event):
    return {"outputFields": {"tier": "gold"}}
"""
V2 = """def main(event):
    print("computing tier")
    return {"outputFields": {"tier": "silver"}}
"""
FAILING = """def main(event):
    amount = event["inputFields"].get("amount")
    if amount is None:
        raise ValueError("amount is missing")
    return {"outputFields": {"double": amount * 2}}
"""


def test_versions_show_a_side_by_side_diff_and_roll_back_in_one_click(
    login: Login, console: LiveServer
) -> None:
    """Two versions differ line by line; rolling back publishes a copy of v1 as v3."""
    console.create_snippet("tiers", V1)
    editor = console.client(Role.EDITOR)
    api_json(editor.put("/v1/snippets/tiers", json={"code": V2}))
    page = login(Role.EDITOR)
    page.goto(f"{console.url}/ui/#/snippets/tiers/versions")
    expect(page.locator(".diff-table")).to_contain_text('"silver"')
    expect(page.locator(".diff-added")).to_have_count(1)
    expect(page.locator(".diff-changed")).to_have_count(1)
    shot(page, "04-versions-diff")
    page.click("text=Roll back to v1")
    expect(page.locator(".notice")).to_contain_text("version 3 is a copy of version 1")
    assert api_json(editor.get("/v1/snippets/tiers"))["code"] == V1


def test_executions_filter_page_and_show_the_error_at_the_users_line(
    login: Login, console: LiveServer
) -> None:
    """Snippets shows the success rate; the table filters by status; the detail marks line 4."""
    snippet = console.create_snippet("doubler", FAILING)
    for number, amount in enumerate([2, None, 3]):
        fields = {} if amount is None else {"amount": amount}
        response = console.call_hook(
            "doubler", action_payload(f"cb-{number}", **fields), token=snippet["hookToken"]
        )
        assert response.status_code == 200, response.text
    page = login(Role.VIEWER)
    row = page.locator("tr[data-snippet=doubler]")
    expect(row).to_contain_text("67 %")  # two of three runs succeeded
    expect(row.locator(".last-error")).to_contain_text("amount is missing")
    shot(page, "00-snippets")
    page.goto(f"{console.url}/ui/#/executions?snippet=doubler")
    expect(page.locator("tbody tr")).to_have_count(3)
    page.select_option("select[name=status]", "error")
    page.click("button:has-text('Filter')")
    expect(page.locator("tbody tr")).to_have_count(1)
    shot(page, "05-executions")
    page.click("tbody tr a")
    expect(page.locator(".error-box")).to_contain_text("amount is missing")
    expect(page.locator(".listing .marked")).to_have_attribute("data-line", "4")
    expect(page.locator("main")).to_contain_text('"objectId": 614')
    # The retry route belongs to the queue; viewers never get the button either way.
    expect(page.locator("button:has-text('Retry')")).to_have_count(0)
    shot(page, "06-execution-detail")


def test_editors_get_a_retry_button_exactly_when_the_server_has_the_retry_route(
    login: Login, console: LiveServer
) -> None:
    """The detail page offers Retry to editors iff the API serves POST /v1/executions/{id}/retry."""
    snippet = console.create_snippet("retried", FAILING)
    response = console.call_hook("retried", action_payload("cb-retry"), token=snippet["hookToken"])
    assert response.status_code == 200, response.text
    has_route = (
        "/v1/executions/{execution_id}/retry"
        in api_json(console.client(None).get("/openapi.json"))["paths"]
    )
    page = login(Role.EDITOR)
    page.goto(f"{console.url}/ui/#/executions?snippet=retried")
    page.click("tbody tr a")
    expect(page.locator(".error-box")).to_contain_text("amount is missing")
    retry = page.locator("button:has-text('Retry')")
    if not has_route:
        expect(retry).to_have_count(0)
        return
    retry.click()
    expect(page.locator(".notice")).to_contain_text("Retry")
    expect(page.locator(".notice .error")).to_have_count(0)
