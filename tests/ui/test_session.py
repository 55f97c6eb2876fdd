"""The console's cookie session and CSRF protection, at the HTTP level (no browser)."""

from __future__ import annotations

import re

import httpx
import pytest

from runtime.auth import Role
from tests.runtime.live import LiveServer

CODE = 'def main(event):\n    return {"outputFields": {"ok": True}}\n'


def _login(console: LiveServer, role: Role = Role.EDITOR, **headers: str) -> httpx.Client:
    """A cookie-only client (no Bearer header) logged in through the form."""
    client = console.client(None, headers=headers)
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    response = client.post(
        "/ui/login",
        data={"token": console.tokens[role], "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def _csrf(client: httpx.Client) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies["codehook_csrf"]}


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def test_login_sets_an_httponly_samesite_strict_session_cookie(console: LiveServer) -> None:
    """The session cookie is HttpOnly and SameSite=Strict, not Secure over plain http, and holds no token."""
    client = console.client(None)
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    response = client.post(
        "/ui/login",
        data={"token": console.tokens[Role.EDITOR], "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    cookies = _set_cookies(response)
    session = cookies["codehook_session"].lower()
    assert "httponly" in session and "samesite=strict" in session and "secure" not in session
    assert "httponly" not in cookies["codehook_csrf"].lower()  # the page reads it
    assert console.tokens[Role.EDITOR] not in response.headers.get("set-cookie", "")
    assert "localStorage" not in client.get("/ui/static/js/api.js").text


def test_session_cookie_is_secure_when_served_over_https(console: LiveServer) -> None:
    """Behind a TLS proxy (X-Forwarded-Proto: https from a trusted address) the cookies are Secure."""
    https = {"X-Forwarded-Proto": "https"}
    form = console.client(None, headers=https).get("/ui/login")
    assert "secure" in _set_cookies(form)["codehook_login_csrf"].lower()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    # httpx keeps Secure cookies for https URLs only, so the login cookie goes by hand.
    answer = console.client(None).post(
        "/ui/login",
        data={"token": console.tokens[Role.VIEWER], "csrf": csrf.group(1)},
        headers={**https, "Cookie": f"codehook_login_csrf={csrf.group(1)}"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    cookies = _set_cookies(answer)
    assert "secure" in cookies["codehook_session"].lower()
    assert "secure" in cookies["codehook_csrf"].lower()


def test_login_refuses_a_wrong_token_and_a_missing_form_token(console: LiveServer) -> None:
    """A wrong API token answers 401 and a missing login CSRF value 403, neither sets a session."""
    client = console.client(None)
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    wrong = client.post("/ui/login", data={"token": "chk_nope", "csrf": csrf.group(1)})
    assert wrong.status_code == 401 and "codehook_session" not in wrong.headers.get(
        "set-cookie", ""
    )
    forged = console.client(None).post(
        "/ui/login", data={"token": console.tokens[Role.ADMIN], "csrf": "guess"}
    )
    assert forged.status_code == 403 and "codehook_session" not in forged.headers.get(
        "set-cookie", ""
    )


def test_the_api_accepts_the_cookie_for_reads_without_csrf(console: LiveServer) -> None:
    """GET /v1/... with only the session cookie answers as the logged-in token."""
    client = _login(console, Role.VIEWER)
    assert client.get("/v1/me").json()["role"] == "viewer"
    assert client.get("/v1/snippets").status_code == 200


@pytest.mark.parametrize("header", [None, "wrong-token"], ids=["missing", "wrong"])
def test_cookie_authenticated_writes_need_the_csrf_header(
    console: LiveServer, header: str | None
) -> None:
    """POST with the cookie but a missing or wrong X-CSRF-Token is refused with 403 csrf_failed."""
    client = _login(console)
    headers = {} if header is None else {"X-CSRF-Token": header}
    response = client.post(
        "/v1/snippets", json={"name": f"csrf-{header or 'none'}", "code": CODE}, headers=headers
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


def test_cookie_authenticated_write_with_csrf_runs_under_the_tokens_role(
    console: LiveServer,
) -> None:
    """With the CSRF header an editor's cookie creates a snippet; a viewer's gets 403 forbidden."""
    editor = _login(console, Role.EDITOR)
    created = editor.post(
        "/v1/snippets", json={"name": "via-cookie", "code": CODE}, headers=_csrf(editor)
    )
    assert created.status_code == 201, created.text
    viewer = _login(console, Role.VIEWER)
    refused = viewer.put("/v1/snippets/via-cookie", json={"code": CODE}, headers=_csrf(viewer))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_one_sessions_csrf_token_does_not_fit_another_session(console: LiveServer) -> None:
    """The CSRF token is bound to its session: another session's value is refused."""
    first, second = _login(console), _login(console)
    response = first.post(
        "/v1/snippets", json={"name": "crossed", "code": CODE}, headers=_csrf(second)
    )
    assert response.status_code == 403


def test_a_tampered_cookie_is_not_a_session(console: LiveServer) -> None:
    """Changing the token id in the cookie breaks its signature: 401 like no cookie at all."""
    client = _login(console, Role.VIEWER)
    token_id, rest = client.cookies["codehook_session"].split(".", 1)
    admin_id = max(console.token_ids)
    forged = console.client(None, cookies={"codehook_session": f"{admin_id}.{rest}"})
    assert str(admin_id) != token_id
    assert forged.get("/v1/me").status_code == 401


def test_logout_needs_csrf_clears_the_cookies_and_ends_the_session(console: LiveServer) -> None:
    """Logout without CSRF is refused; with it, the cookies are cleared and the old one stops working."""
    client = _login(console)
    old = client.cookies["codehook_session"]
    assert client.post("/ui/logout", follow_redirects=False).status_code == 403
    response = client.post("/ui/logout", headers=_csrf(client), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    cleared = _set_cookies(response)
    assert (
        'codehook_session=""' in cleared["codehook_session"]
        or "Max-Age=0" in (cleared["codehook_session"])
    )
    replay = console.client(None, cookies={"codehook_session": old})
    assert replay.get("/v1/me").status_code == 401
    assert replay.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"


def test_revoking_the_token_ends_its_console_sessions(console: LiveServer) -> None:
    """A session refers to its token: once the token is revoked the cookie is refused."""
    admin = console.client(Role.ADMIN)
    created = admin.post("/v1/tokens", json={"name": "short-lived", "role": "viewer"}).json()
    client = console.client(None)
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    client.post("/ui/login", data={"token": created["token"], "csrf": csrf.group(1)})
    assert client.get("/v1/me").status_code == 200
    assert admin.delete(f"/v1/tokens/{created['id']}").status_code == 204
    assert client.get("/v1/me").status_code == 401


def test_bearer_clients_need_no_csrf(console: LiveServer) -> None:
    """Bearer-authenticated calls are not ambient credentials: no CSRF header is needed."""
    response = console.client(Role.EDITOR).post(
        "/v1/snippets", json={"name": "bearer-only", "code": CODE}
    )
    assert response.status_code == 201


def test_validate_reports_compile_issues_with_lines_and_needs_an_editor(
    console: LiveServer,
) -> None:
    """POST /v1/snippets/validate lists each problem's line; viewers are refused with 403."""
    editor = console.client(Role.EDITOR)
    issues = editor.post("/v1/snippets/validate", json={"code": "x = 1\ndef f(:\n"}).json()
    assert issues["issues"][0]["line"] == 2
    assert editor.post("/v1/snippets/validate", json={"code": CODE}).json() == {"issues": []}
    viewer = console.client(Role.VIEWER).post("/v1/snippets/validate", json={"code": CODE})
    assert viewer.status_code == 403


def test_console_pages_need_a_session_and_carry_a_strict_csp(console: LiveServer) -> None:
    """/ui/ without a session redirects to the login form; pages forbid inline and foreign scripts."""
    anonymous = console.client(None).get("/ui/", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/ui/login"
    page = _login(console).get("/ui/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")
