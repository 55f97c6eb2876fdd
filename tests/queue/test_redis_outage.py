"""Redis stops while hooks arrive (a private redis-server, never the shared one)."""

from __future__ import annotations

from tests.fakes.hubspot import FakeHubSpot
from tests.queue.support import Workers, private_redis, wait_for
from tests.runtime.live import ServerFactory, action_payload

ECHO = """\
def main(event):
    return {"outputFields": {"echo": event["inputFields"].get("word", "")}}
"""


def test_sync_hooks_work_async_hooks_get_503_and_queued_work_completes_after(
    make_server: ServerFactory, hubspot: FakeHubSpot, workers: Workers
) -> None:
    """Without Redis: sync answers, async 503 + Retry-After; with Redis back (empty) all completes."""
    contact = hubspot.add_object("contacts", {"email": "ada@example.com"})
    with private_redis() as redis_server:
        server = make_server(REDIS_URL=redis_server.url)
        later = server.create_snippet("later", ECHO, mode="async")
        now = server.create_snippet("now", ECHO, writeBack={"properties": {"echo": "last_echo"}})
        queued = server.call_hook(
            "later", action_payload("cb-queued", word="a"), token=later["hookToken"]
        )

        redis_server.stop()  # the queued job goes with it: this Redis keeps nothing on disk
        sync = server.call_hook(
            "now",
            action_payload("cb-sync", object_id=int(contact), word="b"),
            token=now["hookToken"],
        )
        refused = server.call_hook(
            "later", action_payload("cb-retry", word="c"), token=later["hookToken"]
        )

        assert queued.json()["outputFields"]["hs_execution_state"] == "BLOCK"
        assert sync.status_code == 200
        assert sync.json()["outputFields"] == {"echo": "b", "hs_execution_state": "SUCCESS"}
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["code"] == "queue_unavailable"

        redis_server.start()
        workers.start(server)
        retried = server.call_hook(
            "later", action_payload("cb-retry", word="c"), token=later["hookToken"]
        )

        assert retried.json()["outputFields"]["hs_execution_state"] == "BLOCK"
        wait_for(lambda: {"cb-queued", "cb-retry"} <= set(hubspot.completed_callbacks), timeout=60)
        assert hubspot.completed_callbacks["cb-queued"]["echo"] == "a"
        assert hubspot.completed_callbacks["cb-retry"]["echo"] == "c"
        wait_for(lambda: hubspot.properties_of("contacts", contact).get("last_echo") == "b")
        workers.stop_all()
