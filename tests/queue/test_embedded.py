"""Async snippets, callbacks and write-back on the embedded queue (`serve` without Redis)."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path

from runtime.auth import Role
from runtime.db import create_engine_for_url, create_session_factory
from runtime.db import executions as records
from runtime.db import snippets as store
from runtime.db.models import ExecutionStatus
from tests.fakes.hubspot import FakeHubSpot, Scripted
from tests.queue.support import wait_for
from tests.runtime.live import ServerFactory, action_payload, execution

SCORE = """\
def main(event):
    print("scoring", event["object"]["objectId"])
    return {"outputFields": {"score": 42, "tier": "gold"}}
"""


def test_async_hook_answers_block_then_completes_the_callback(
    make_server: ServerFactory, hubspot: FakeHubSpot
) -> None:
    """An async snippet answers BLOCK at once; its outputs arrive through the callback API."""
    server = make_server()
    snippet = server.create_snippet(
        "score", SCORE, mode="async", outputFields={"score": "number", "tier": "string"},
        expirationDuration="PT2H",
    )  # fmt: skip

    response = server.call_hook("score", action_payload("cb-1"), token=snippet["hookToken"])

    assert response.status_code == 200, response.text
    assert response.json() == {
        "outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "PT2H"}
    }
    wait_for(lambda: hubspot.completed_callbacks.get("cb-1"), what="the callback")
    assert hubspot.completed_callbacks["cb-1"] == {
        "score": 42, "tier": "gold", "hs_execution_state": "SUCCESS",
    }  # fmt: skip
    (record,) = server.client(Role.VIEWER).get("/v1/executions").json()["items"]
    shown = wait_for(
        lambda: (e := execution(server, record["id"]))["delivery"] == "delivered" and e
    )
    assert shown["status"] == "success" and "scoring 614" in shown["logs"]
    assert shown["callback"]["state"] == "completed"
    assert [a["status"] for a in shown["callback"]["attempts"]] == [204]


def test_async_hook_without_callback_id_answers_202_with_a_status_url(
    make_server: ServerFactory,
) -> None:
    """Without a callbackId the hook answers 202 with the execution id and where to poll it."""
    server = make_server()
    snippet = server.create_snippet("score", SCORE, mode="async")

    response = server.call_hook("score", action_payload(), token=snippet["hookToken"])

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["statusUrl"] == f"{server.url}/v1/executions/{body['executionId']}"
    viewer = server.client(Role.VIEWER)
    done = wait_for(
        lambda: (e := viewer.get(body["statusUrl"]).json())["status"] == "success" and e
    )
    assert done["outputFields"] == {"score": 42, "tier": "gold"}
    assert done["delivery"] is None and done["callback"] is None


def test_repeated_callback_id_answers_the_recorded_result_once_final(
    make_server: ServerFactory, hubspot: FakeHubSpot
) -> None:
    """HubSpot repeating a finished async call gets the recorded outputs; nothing runs again."""
    server = make_server()
    snippet = server.create_snippet("score", SCORE, mode="async")
    server.call_hook("score", action_payload("cb-2"), token=snippet["hookToken"])
    wait_for(lambda: hubspot.completed_callbacks.get("cb-2"), what="the callback")

    again = server.call_hook("score", action_payload("cb-2"), token=snippet["hookToken"])

    assert again.json()["outputFields"]["hs_execution_state"] == "SUCCESS"
    assert again.json()["outputFields"]["score"] == 42
    assert len(hubspot.requests_to("POST", "/automation/v4/actions/callbacks/*")) == 1


def test_sync_hook_writes_outputs_back_to_the_crm_record(
    make_server: ServerFactory, hubspot: FakeHubSpot
) -> None:
    """A sync snippet with writeBack answers at once and sets the CRM properties after."""
    contact = hubspot.add_object("contacts", {"email": "ada@example.com"})
    server = make_server()
    snippet = server.create_snippet(
        "score", SCORE, outputFields={"score": "number", "tier": "string"},
        writeBack={"properties": {"score": "lead_score", "tier": "lead_tier"}},
    )  # fmt: skip

    response = server.call_hook(
        "score", action_payload("cb-3", object_id=int(contact)), token=snippet["hookToken"]
    )

    assert response.json()["outputFields"]["score"] == 42
    written = wait_for(lambda: hubspot.properties_of("contacts", contact).get("lead_tier"))
    assert written == "gold"
    assert hubspot.properties_of("contacts", contact)["lead_score"] == "42"
    (request,) = hubspot.requests_to("PATCH", f"/crm/v3/objects/contacts/{contact}")
    assert request.headers["authorization"] == "Bearer test-hubspot-token"


def test_writeback_refused_with_a_4xx_is_not_retried_and_can_be_retried_by_hand(
    make_server: ServerFactory, hubspot: FakeHubSpot
) -> None:
    """A 404 on write-back gives up at once (writeback_failed); POST .../retry re-delivers it."""
    server = make_server()
    snippet = server.create_snippet(
        "score", SCORE, writeBack={"properties": {"score": "lead_score"}}
    )
    server.call_hook("score", action_payload("cb-4", object_id=999), token=snippet["hookToken"])
    (record,) = server.client(Role.VIEWER).get("/v1/executions").json()["items"]
    failed = wait_for(lambda: (e := execution(server, record["id"]))["delivery"] != "pending" and e)
    assert failed["delivery"] == "writeback_failed"
    assert [a["status"] for a in failed["writeBack"]["attempts"]] == [404]
    hubspot.add_object("contacts", {"email": "late@example.com"}, object_id=999)

    retried = server.client(Role.EDITOR).post(f"/v1/executions/{record['id']}/retry")

    assert retried.status_code == 202, retried.text
    assert retried.json()["action"] == "redeliver"
    wait_for(lambda: hubspot.properties_of("contacts", 999).get("lead_score"), what="the write")
    done = wait_for(lambda: (e := execution(server, record["id"]))["delivery"] == "delivered" and e)
    assert [a["status"] for a in done["writeBack"]["attempts"]] == [404, 200]
    audit = server.client(Role.ADMIN).get("/v1/audit", params={"action": "execution.retried"})
    assert [entry["target"] for entry in audit.json()["items"]] == [record["id"]]


def test_retry_runs_a_finished_execution_again_as_a_further_attempt(
    make_server: ServerFactory,
) -> None:
    """POST /v1/executions/{id}/retry re-runs a final execution on the queue (editors only)."""
    server = make_server()
    snippet = server.create_snippet("score", SCORE)
    server.call_hook("score", action_payload("cb-5"), token=snippet["hookToken"])
    (record,) = server.client(Role.VIEWER).get("/v1/executions").json()["items"]

    refused = server.client(Role.VIEWER).post(f"/v1/executions/{record['id']}/retry")
    retried = server.client(Role.EDITOR).post(f"/v1/executions/{record['id']}/retry")

    assert refused.status_code == 403
    assert retried.status_code == 202 and retried.json()["action"] == "rerun"
    done = wait_for(
        lambda: (
            (e := execution(server, record["id"]))["status"] == "success"
            and e["attempts"] == 2
            and e
        )
    )
    assert [a["status"] for a in done["attemptLog"]] == ["success", "success"]


def test_work_accepted_before_a_restart_resumes_when_serve_starts(
    make_server: ServerFactory, hubspot: FakeHubSpot, tmp_path: Path
) -> None:
    """A pending execution stored by an earlier process runs and calls back when serve starts."""
    data = tmp_path / "kept"
    data.mkdir()
    first = make_server(data=data)
    first.create_snippet("score", SCORE, mode="async")
    engine = create_engine_for_url(first.settings.database_url)
    with create_session_factory(engine)() as session:
        snippet = store.get_snippet(session, name="score")
        assert snippet is not None
        records.claim_execution(
            session, snippet=snippet, callback_id="cb-6", event=action_payload("cb-6"),
            status=ExecutionStatus.PENDING, portal_id=62515,
        )  # fmt: skip
    engine.dispose()
    wait_for(lambda: hubspot.completed_callbacks.get("cb-6"), what="the resumed callback")


def test_callback_429_then_500_then_200_lands_once_with_every_attempt_recorded(
    make_server: ServerFactory, hubspot: FakeHubSpot
) -> None:
    """HubSpot's 429 (Retry-After) and 500 are retried after their waits; one completion lands."""
    hubspot.script(
        "POST", "/automation/v4/actions/callbacks/*/complete",
        Scripted(429, headers={"Retry-After": "1"}), 500,
    )  # fmt: skip
    server = make_server()
    snippet = server.create_snippet("score", SCORE, mode="async")

    server.call_hook("score", action_payload("cb-7"), token=snippet["hookToken"])

    wait_for(lambda: hubspot.completed_callbacks.get("cb-7"), what="the callback")
    (record,) = server.client(Role.VIEWER).get("/v1/executions").json()["items"]
    done = wait_for(lambda: (e := execution(server, record["id"]))["delivery"] == "delivered" and e)
    attempts = done["callback"]["attempts"]
    assert [a["status"] for a in attempts] == [429, 500, 204]
    assert attempts[0]["error"].startswith("HTTP 429") and attempts[2]["error"] is None
    gaps = [_at(later) - _at(earlier) for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= 1.0  # Retry-After honoured
    assert len(hubspot.requests_to("POST", "/automation/v4/actions/callbacks/*/complete")) == 3


def _at(attempt: dict[str, str]) -> float:
    return datetime.fromisoformat(attempt["at"]).timestamp()
