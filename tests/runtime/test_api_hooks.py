"""`POST /v1/hooks/{snippet}` end to end: signatures, payloads, idempotency, failures, back-pressure."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from hubspot.utils.signature import Signature

from runtime.auth import Role
from runtime.db import create_engine_for_url, create_session_factory
from runtime.db import executions as records
from runtime.db import snippets as store
from runtime.db.models import utcnow
from tests.fakes.hubspot import FakeHubSpot, Scripted
from tests.runtime.live import (
    CLIENT_SECRET,
    LiveServer,
    ServerFactory,
    action_payload,
    execution,
    executions,
    v3_headers,
)

GREET = """\
def main(event):
    email = event["inputFields"].get("email")
    print("greeting", email)
    return {"outputFields": {"greeting": "hello " + str(email), "objectId": event["object"]["objectId"]}}
"""
RANDOM = """\
import random

def main(event):
    return {"outputFields": {"n": random.random()}}
"""


def test_v3_signed_hook_answers_outputs_and_records_the_execution(server: LiveServer) -> None:
    """A v3-signed HubSpot call runs the snippet, answers SUCCESS and records everything."""
    server.create_snippet("greet", GREET)
    payload = action_payload("ap-1-2-3", email="ada@example.com")

    response = server.call_hook("greet", payload, signed=True)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "outputFields": {
            "greeting": "hello ada@example.com",
            "objectId": 614,
            "hs_execution_state": "SUCCESS",
        }
    }
    (listed,) = executions(server, "greet")
    record = execution(server, listed["id"])
    assert record["status"] == "success"
    assert record["event"]["inputFields"] == {"email": "ada@example.com"}
    assert record["outputFields"] == {"greeting": "hello ada@example.com", "objectId": 614}
    assert record["logs"] == "greeting ada@example.com\n"
    assert record["callbackId"] == "ap-1-2-3"
    assert record["objectId"] == "614" and record["objectType"] == "CONTACT"
    assert record["portalId"] == "62515"
    assert record["attempts"] == 1 and record["version"] == 1
    assert record["durationMs"] > 0 and record["memoryKb"] > 0
    assert record["error"] is None and record["finishedAt"] is not None


def test_v3_signature_is_checked_against_public_url(make_server: ServerFactory) -> None:
    """Behind a proxy the v3 signature covers CODEHOOK_PUBLIC_URL, not the local address."""
    server = make_server(public_url="https://codehook.example.com")
    server.create_snippet("behind-proxy", GREET)

    signed_public = server.call_hook("behind-proxy", action_payload(email="a@b.c"), signed=True)
    body = json.dumps(action_payload(email="a@b.c")).encode()
    local_uri = f"{server.url}/v1/hooks/behind-proxy"
    signed_local = server.client(None).post(
        "/v1/hooks/behind-proxy",
        content=body,
        headers={"Content-Type": "application/json", **v3_headers(local_uri, body)},
    )

    assert signed_public.status_code == 200, signed_public.text
    assert signed_local.status_code == 401
    assert signed_local.json()["error"]["code"] == "bad_signature"


def test_v3_signature_covers_the_query_string(shared_server: LiveServer) -> None:
    """A v3 signature over a URL with a query string verifies; a changed query does not."""
    shared_server.create_snippet("with-query", GREET)
    body = json.dumps(action_payload(email="q@example.com")).encode()
    path = "/v1/hooks/with-query?source=workflow&id=1"
    headers = {
        "Content-Type": "application/json",
        **v3_headers(shared_server.url + path, body),
    }
    client = shared_server.client(None)

    good = client.post(path, content=body, headers=headers)
    tampered = client.post(path.replace("id=1", "id=2"), content=body, headers=headers)

    assert good.status_code == 200, good.text
    assert tampered.status_code == 401


def test_v2_and_v1_signatures_are_accepted(shared_server: LiveServer) -> None:
    """Legacy X-HubSpot-Signature v2 (method + URI + body) and v1 (body) both verify."""
    shared_server.create_snippet("legacy-sig", GREET)
    body = json.dumps(action_payload(email="v@example.com"))
    uri = f"{shared_server.url}/v1/hooks/legacy-sig"
    v2 = Signature.get_signature(CLIENT_SECRET, body, "v2", http_uri=uri, http_method="POST")
    v1 = Signature.get_signature(CLIENT_SECRET, body, "v1")
    client = shared_server.client(None)
    json_type = {"Content-Type": "application/json"}

    by_v2 = client.post(
        "/v1/hooks/legacy-sig",
        content=body,
        headers={**json_type, "X-HubSpot-Signature": v2, "X-HubSpot-Signature-Version": "v2"},
    )
    by_v1 = client.post(
        "/v1/hooks/legacy-sig",
        content=body,
        headers={**json_type, "X-HubSpot-Signature": v1, "X-HubSpot-Signature-Version": "v1"},
    )
    wrong = client.post(
        "/v1/hooks/legacy-sig",
        content=body,
        headers={**json_type, "X-HubSpot-Signature": v1, "X-HubSpot-Signature-Version": "v2"},
    )

    assert by_v2.json()["outputFields"]["hs_execution_state"] == "SUCCESS"
    assert by_v1.json()["outputFields"]["hs_execution_state"] == "SUCCESS"
    assert wrong.status_code == 401


def test_send_a_webhook_payload_flattens_record_properties(server: LiveServer) -> None:
    """The "Send a webhook" record body becomes inputFields from its flattened properties."""
    server.create_snippet(
        "record-hook",
        "def main(event):\n"
        "    f = event['inputFields']\n"
        "    return {'outputFields': {'who': f['firstname'] + ' ' + f['lastname'],\n"
        "                             'id': event['object']['objectId'],\n"
        "                             'type': event['object']['objectType']}}\n",
    )
    record = {
        "vid": 901,
        "portal-id": 62515,
        "properties": {
            "firstname": {"value": "Ada", "versions": [{"value": "Ada", "source-type": "FORM"}]},
            "lastname": {"value": "Lovelace", "versions": []},
        },
    }

    response = server.call_hook("record-hook", record, signed=True)

    assert response.status_code == 200, response.text
    assert response.json()["outputFields"] == {
        "who": "Ada Lovelace",
        "id": 901,
        "type": "CONTACT",
        "hs_execution_state": "SUCCESS",
    }
    (listed,) = executions(server, "record-hook")
    stored = execution(server, listed["id"])
    assert stored["event"]["inputFields"] == {"firstname": "Ada", "lastname": "Lovelace"}
    assert stored["objectId"] == "901" and stored["portalId"] == "62515"


def test_hook_token_works_in_header_and_query(shared_server: LiveServer) -> None:
    """The snippet's hook token authenticates in X-Codehook-Token and in ?token=."""
    token = shared_server.create_snippet("by-token", GREET)["hookToken"]
    client = shared_server.client(None)

    by_header = shared_server.call_hook("by-token", action_payload(email="h@x.io"), token=token)
    by_query = client.post(
        "/v1/hooks/by-token", params={"token": token}, json=action_payload(email="q@x.io")
    )
    by_other_snippet = shared_server.call_hook(
        "by-token",
        action_payload(),
        token=shared_server.create_snippet("other", GREET)["hookToken"],
    )
    unauthenticated = client.post("/v1/hooks/by-token", json=action_payload())

    assert by_header.json()["outputFields"]["greeting"] == "hello h@x.io"
    assert by_query.json()["outputFields"]["greeting"] == "hello q@x.io"
    assert by_other_snippet.status_code == 401
    assert unauthenticated.status_code == 401
    assert set(unauthenticated.json()["error"]) == {"code", "message"}
    assert "X-Codehook-Token" in unauthenticated.json()["error"]["message"]


def test_hook_replays_recorded_result_for_same_callback_id(server: LiveServer) -> None:
    """A repeated callbackId answers the recorded outputs without running the snippet again."""
    server.create_snippet("coin", RANDOM)

    first = server.call_hook("coin", action_payload("ap-replay-1"), signed=True)
    second = server.call_hook("coin", action_payload("ap-replay-1"), signed=True)
    other = server.call_hook("coin", action_payload("ap-replay-2"), signed=True)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert other.json() != first.json()
    runs = executions(server, "coin")
    assert len(runs) == 2
    assert all(e["attempts"] == 1 for e in runs)


def test_idempotency_key_header_deduplicates_calls_without_callback_id(
    shared_server: LiveServer,
) -> None:
    """Without a callbackId, the Idempotency-Key header makes repeats return the recorded result."""
    token = shared_server.create_snippet("keyed", RANDOM)["hookToken"]

    def call(key: str) -> dict[str, Any]:
        response = shared_server.call_hook(
            "keyed", action_payload(), token=token, headers={"Idempotency-Key": key}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert call("key-1") == call("key-1") != call("key-2")
    assert len(executions(shared_server, "keyed")) == 2


def test_timeout_answers_fail_continue_with_timeout_code(shared_server: LiveServer) -> None:
    """A snippet that runs past timeoutSeconds answers FAIL_CONTINUE with errorCode TIMEOUT."""
    token = shared_server.create_snippet(
        "spin", "def main(event):\n    while True:\n        pass\n", timeoutSeconds=0.5
    )["hookToken"]

    started = time.monotonic()
    response = shared_server.call_hook("spin", action_payload("ap-spin"), token=token)

    assert time.monotonic() - started < 5
    outputs = response.json()["outputFields"]
    assert response.status_code == 200
    assert outputs["hs_execution_state"] == "FAIL_CONTINUE"
    assert outputs["errorCode"] == "TIMEOUT"
    (record,) = executions(shared_server, "spin")
    assert record["status"] == "timeout"


def test_snippet_error_answers_fail_continue_naming_the_line(shared_server: LiveServer) -> None:
    """An exception in the snippet answers FAIL_CONTINUE whose errorMessage names the line."""
    token = shared_server.create_snippet(
        "broken",
        "def main(event):\n    total = 0\n    return {'outputFields': {'x': 1 / total}}\n",
    )["hookToken"]

    response = shared_server.call_hook("broken", action_payload("ap-broken"), token=token)

    outputs = response.json()["outputFields"]
    assert outputs["hs_execution_state"] == "FAIL_CONTINUE"
    assert outputs["errorCode"] == "SNIPPET_ERROR"
    assert "ZeroDivisionError" in outputs["errorMessage"]
    assert "line 3" in outputs["errorMessage"]
    (listed,) = executions(shared_server, "broken")
    record = execution(shared_server, listed["id"])
    assert record["error"]["type"] == "ZeroDivisionError" and record["error"]["line"] == 3


def test_output_of_wrong_type_answers_output_invalid(shared_server: LiveServer) -> None:
    """An output that does not match its declared type answers FAIL_CONTINUE OUTPUT_INVALID."""
    token = shared_server.create_snippet(
        "typed",
        "def main(event):\n    return {'outputFields': {'score': 'high'}}\n",
        outputFields={"score": "number"},
    )["hookToken"]

    response = shared_server.call_hook("typed", action_payload("ap-typed"), token=token)

    outputs = response.json()["outputFields"]
    assert outputs["hs_execution_state"] == "FAIL_CONTINUE"
    assert outputs["errorCode"] == "OUTPUT_INVALID"
    assert "score" in outputs["errorMessage"]


def test_memory_limit_answers_fail_continue_with_memory_code(shared_server: LiveServer) -> None:
    """A snippet that allocates past memoryMb answers FAIL_CONTINUE with errorCode MEMORY_LIMIT."""
    token = shared_server.create_snippet(
        "hog", "def main(event):\n    x = 'a' * (400 * 1024 * 1024)\n", memoryMb=32
    )["hookToken"]

    response = shared_server.call_hook("hog", action_payload("ap-hog"), token=token)

    outputs = response.json()["outputFields"]
    assert outputs["hs_execution_state"] == "FAIL_CONTINUE"
    assert outputs["errorCode"] == "MEMORY_LIMIT"


def test_saturated_executor_answers_503_and_retry_runs_the_call(
    make_server: ServerFactory, database_url: str
) -> None:
    """Concurrent calls beyond capacity get 503 + Retry-After, recorded; a retry later succeeds."""
    server = make_server(database_url, executor_concurrency="1", executor_wait_seconds="0.2")
    token = server.create_snippet(
        "slow",
        "import time\n\ndef main(event):\n    time.sleep(0.6)\n    return {'outputFields': {'ok': True}}\n",
    )["hookToken"]
    ids = [f"ap-busy-{n}" for n in range(4)]

    with ThreadPoolExecutor(len(ids)) as pool:
        responses = list(
            pool.map(lambda cid: server.call_hook("slow", action_payload(cid), token=token), ids)
        )

    statuses = [r.status_code for r in responses]
    assert 200 in statuses and 503 in statuses, statuses
    rejected = [cid for cid, r in zip(ids, responses, strict=True) if r.status_code == 503]
    for response in responses:
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) >= 1
            assert response.json()["error"]["code"] == "overloaded"
    recorded = {e["callbackId"]: e for e in executions(server, "slow")}
    assert set(recorded) == set(ids), "every call is recorded, none lost"
    assert all(recorded[cid]["status"] == "rejected" for cid in rejected)

    for cid in rejected:
        retried = server.call_hook("slow", action_payload(cid), token=token)
        assert retried.status_code == 200, retried.text
        assert retried.json()["outputFields"]["hs_execution_state"] == "SUCCESS"
    after = {e["callbackId"]: e for e in executions(server, "slow")}
    assert all(
        after[cid]["attempts"] == 2 and after[cid]["status"] == "success" for cid in rejected
    )
    record = execution(server, after[rejected[0]]["id"])
    assert [a["status"] for a in record["attemptLog"]] == ["rejected", "success"]


def test_hook_for_unknown_snippet_is_404(shared_server: LiveServer) -> None:
    """A hook for a snippet that does not exist answers 404 with the error shape."""
    response = shared_server.call_hook("no-such-snippet", action_payload(), signed=True)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "no-such-snippet" in response.json()["error"]["message"]


def test_hook_token_rotation_invalidates_the_old_token(shared_server: LiveServer) -> None:
    """After POST /hook-token the old token is refused and the new one works."""
    old = shared_server.create_snippet("rotating", GREET)["hookToken"]

    rotated = shared_server.client(Role.EDITOR).post("/v1/snippets/rotating/hook-token")
    new = rotated.json()["hookToken"]

    assert rotated.status_code == 200 and new != old
    assert shared_server.call_hook("rotating", action_payload(), token=old).status_code == 401
    assert shared_server.call_hook("rotating", action_payload(), token=new).status_code == 200


def test_crm_rate_limit_answers_429_and_retry_runs_again(make_server: ServerFactory) -> None:
    """A snippet that re-raises HubSpot's 429 answers 429 + Retry-After; the retry runs it again."""
    with FakeHubSpot() as crm:
        crm.add_object("contacts", {"email": "ada@example.com"}, object_id=7)
        crm.script("GET", "/crm/v3/objects/contacts/*", Scripted(429, headers={"Retry-After": "3"}))
        server = make_server(egress_overrides=json.dumps({"api.hubapi.com": crm.url}))
        token = server.create_snippet(
            "crm-read",
            "import requests\n\n"
            "def main(event):\n"
            "    r = requests.get('https://api.hubapi.com/crm/v3/objects/contacts/7')\n"
            "    r.raise_for_status()\n"
            "    return {'outputFields': {'email': r.json()['properties']['email']}}\n",
        )["hookToken"]

        limited = server.call_hook("crm-read", action_payload("ap-429"), token=token)
        retried = server.call_hook("crm-read", action_payload("ap-429"), token=token)

    assert limited.status_code == 429, limited.text
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert retried.status_code == 200, retried.text
    assert retried.json()["outputFields"]["email"] == "ada@example.com"
    (record,) = executions(server, "crm-read")
    assert record["attempts"] == 2 and record["status"] == "success"
    assert [a["status"] for a in execution(server, record["id"])["attemptLog"]] == [
        "rate_limited",
        "success",
    ]


def test_concurrent_calls_with_one_callback_id_run_once(shared_server: LiveServer) -> None:
    """Two simultaneous calls with one callbackId run the snippet once; the other is told to retry."""
    token = shared_server.create_snippet(
        "once",
        "import time\n\ndef main(event):\n    time.sleep(0.5)\n    return {'outputFields': {'ok': 1}}\n",
    )["hookToken"]

    with ThreadPoolExecutor(2) as pool:
        responses = list(
            pool.map(
                lambda _: shared_server.call_hook("once", action_payload("ap-twice"), token=token),
                range(2),
            )
        )

    assert sorted(r.status_code for r in responses) == [200, 503]
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.json()["error"]["code"] == "in_progress" and busy.headers["Retry-After"]
    (record,) = executions(shared_server, "once")
    assert record["attempts"] == 1 and record["status"] == "success"


def test_unauthenticated_hooks_need_the_development_flag(make_server: ServerFactory) -> None:
    """With CODEHOOK_DEV_ALLOW_UNAUTHENTICATED_HOOKS a hook runs without signature or token."""
    server = make_server(dev_allow_unauthenticated_hooks="true")
    server.create_snippet("open", GREET)

    response = server.call_hook("open", action_payload(email="dev@example.com"))

    assert response.json()["outputFields"]["greeting"] == "hello dev@example.com"


def test_attempt_abandoned_by_a_dead_process_is_run_again(server: LiveServer) -> None:
    """An execution left "running" long past any run's limit is taken over by HubSpot's retry."""
    server.create_snippet("orphan", GREET)
    engine = create_engine_for_url(server.settings.database_url)
    with create_session_factory(engine)() as session:
        snippet = store.get_snippet(session, name="orphan")
        assert snippet is not None
        long_ago = utcnow() - timedelta(hours=1)
        records.claim_execution(session, snippet=snippet, callback_id="ap-orphan", now=long_ago)
    engine.dispose()

    response = server.call_hook(
        "orphan", action_payload("ap-orphan", email="ada@example.com"), signed=True
    )

    assert response.status_code == 200, response.text
    assert response.json()["outputFields"]["hs_execution_state"] == "SUCCESS"
    (listed,) = executions(server, "orphan")
    record = execution(server, listed["id"])
    assert record["attempts"] == 2 and record["status"] == "success"


def test_recent_running_attempt_answers_in_progress(shared_server: LiveServer) -> None:
    """A call whose first attempt is still running gets 503 in_progress, not a second run."""
    shared_server.create_snippet("busy-one", GREET)
    engine = create_engine_for_url(shared_server.settings.database_url)
    with create_session_factory(engine)() as session:
        snippet = store.get_snippet(session, name="busy-one")
        assert snippet is not None
        records.claim_execution(session, snippet=snippet, callback_id="ap-running")
    engine.dispose()

    response = shared_server.call_hook("busy-one", action_payload("ap-running"), signed=True)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "in_progress"
    assert response.headers["Retry-After"] == "2"
