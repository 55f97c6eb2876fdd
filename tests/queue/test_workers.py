"""Real `codehook worker` processes on the real Redis: runs, callbacks, duplicates, SIGKILL."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

from runtime.auth import Role
from tests.fakes.hubspot import FakeHubSpot
from tests.queue.support import Workers, wait_for
from tests.runtime.live import ServerFactory, action_payload, execution, executions

SLOW = """\
import time

def main(event):
    print("started")
    time.sleep(float(event["inputFields"].get("seconds", 0)))
    return {"outputFields": {"slept": event["inputFields"].get("seconds", 0)}}
"""


def test_workers_run_async_hooks_and_complete_every_callback_once(
    make_server: ServerFactory, hubspot: FakeHubSpot, workers: Workers, redis_url: str
) -> None:
    """Two workers share the queue; each accepted hook completes its callback exactly once."""
    server = make_server(REDIS_URL=redis_url)
    snippet = server.create_snippet("slow", SLOW, mode="async")
    workers.start(server)
    workers.start(server)

    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda n: server.call_hook(
                    "slow", action_payload(f"cb-{n}", seconds=0.1), token=snippet["hookToken"]
                ),
                range(12),
            )
        )

    assert {a.json()["outputFields"]["hs_execution_state"] for a in answers} == {"BLOCK"}
    wait_for(lambda: len(hubspot.completed_callbacks) == 12, what="12 callbacks", timeout=60)
    assert hubspot.completed_callbacks["cb-3"] == {"slept": 0.1, "hs_execution_state": "SUCCESS"}
    completions = [
        r.json for r in hubspot.requests if r.path.startswith("/automation/v4/actions/callbacks/")
    ]
    delivered = [c.get("callbackId") for r in completions for c in (r.get("inputs") or [r])]
    assert len(delivered) == 12, workers.logs()


def test_callback_id_delivered_twice_while_running_runs_once_and_calls_back_once(
    make_server: ServerFactory, hubspot: FakeHubSpot, workers: Workers, redis_url: str
) -> None:
    """HubSpot repeating a call whose run is still going gets BLOCK; one run, one callback."""
    server = make_server(REDIS_URL=redis_url)
    snippet = server.create_snippet("slow", SLOW, mode="async")
    workers.start(server)
    payload = action_payload("cb-dup", seconds=1.5)

    first = server.call_hook("slow", payload, token=snippet["hookToken"])
    (record,) = executions(server, "slow")
    wait_for(lambda: execution(server, record["id"])["status"] == "running", what="the run")
    second = server.call_hook("slow", payload, token=snippet["hookToken"])

    assert first.json() == second.json()
    assert second.json()["outputFields"]["hs_execution_state"] == "BLOCK"
    done = wait_for(lambda: (e := execution(server, record["id"]))["delivery"] == "delivered" and e)
    assert done["attempts"] == 1 and done["logs"].count("started") == 1
    assert len(executions(server, "slow")) == 1
    assert len(hubspot.requests_to("POST", "/automation/v4/actions/callbacks/*")) == 1


def test_sigkill_of_a_worker_mid_run_is_retried_by_another_worker(
    make_server: ServerFactory, hubspot: FakeHubSpot, workers: Workers, redis_url: str
) -> None:
    """A worker killed mid-run stops renewing its lease; the run is retried and calls back."""
    server = make_server(REDIS_URL=redis_url)
    snippet = server.create_snippet("slow", SLOW, mode="async")
    doomed = workers.start(server)
    server.call_hook("slow", action_payload("cb-kill", seconds=3), token=snippet["hookToken"])
    (record,) = executions(server, "slow")
    wait_for(lambda: execution(server, record["id"])["status"] == "running", what="the run")

    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    workers.start(server)

    done = wait_for(
        lambda: (e := execution(server, record["id"]))["delivery"] == "delivered" and e,
        timeout=60,
        what="the retried run",
    )
    assert done["status"] == "success" and done["attempts"] == 2
    lost, retried = done["attemptLog"]
    assert lost["status"] == "abandoned" and lost["errorType"] == "WorkerLost"
    assert retried["status"] == "success"
    assert hubspot.completed_callbacks["cb-kill"]["hs_execution_state"] == "SUCCESS"


def test_run_whose_workers_keep_dying_is_marked_failed_with_the_reason(
    make_server: ServerFactory, hubspot: FakeHubSpot, workers: Workers, redis_url: str
) -> None:
    """Out of attempts after a SIGKILL, the run fails with WorkerLost and HubSpot hears FAIL_CONTINUE."""
    server = make_server(REDIS_URL=redis_url, MAX_RUN_ATTEMPTS="1")
    snippet = server.create_snippet("slow", SLOW, mode="async")
    doomed = workers.start(server, MAX_RUN_ATTEMPTS="1")
    server.call_hook("slow", action_payload("cb-dead", seconds=30), token=snippet["hookToken"])
    (record,) = executions(server, "slow")
    wait_for(lambda: execution(server, record["id"])["status"] == "running", what="the run")

    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    workers.start(server, MAX_RUN_ATTEMPTS="1")

    done = wait_for(lambda: hubspot.completed_callbacks.get("cb-dead"), timeout=60)
    assert done["hs_execution_state"] == "FAIL_CONTINUE" and done["errorCode"] == "CRASHED"
    assert "WorkerLost" in done["errorMessage"]
    shown = execution(server, record["id"])
    assert shown["status"] == "crashed" and shown["error"]["type"] == "WorkerLost"
    assert (
        server.client(Role.VIEWER)
        .get("/v1/executions", params={"status": "running"})
        .json()["items"]
        == []
    )
