"""Async executions on RQ workers: hook accepted -> callback received by a fake HubSpot.

    .venv/bin/python bench/bench_async.py [--hooks 300] [--concurrency 16] [--workers 1 2]
                                          [--postgres]

`codehook serve` (Redis on 127.0.0.1:6379, database 12, flushed) and real `codehook worker`
processes; a trivial async snippet; a fake HubSpot on real HTTP that stamps each callback's
arrival. For each worker count, `--hooks` hook calls (each a fresh callbackId) are sent with
`--concurrency` in flight; the rate is completed callbacks per second from the first call to
the last callback, and the latency is from sending the hook to the callback's arrival.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.hubspot import FakeHubSpot, RecordedRequest  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TOKEN = "bench-hubspot-token"  # noqa: S105 (the fake's token)
SNIPPET = "def main(event):\n    return {'outputFields': {'n': event['inputFields']['n']}}\n"


class StampingHubSpot(FakeHubSpot):
    """Notes when each callback completion arrives, and the size of each batch."""

    def __init__(self) -> None:
        super().__init__(access_token=TOKEN)
        self.arrivals: dict[str, float] = {}
        self.batches: list[int] = []
        self._stamp_lock = threading.Lock()

    def _handle(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        answer = super()._handle(request)
        now = time.monotonic()
        if request.path.startswith("/automation/v4/actions/callbacks/") and answer[0] < 300:
            ids = [i["callbackId"] for i in (request.json or {}).get("inputs", [])] or [
                request.path.split("/")[-2]
            ]
            with self._stamp_lock:
                self.batches.append(len(ids))
                for callback_id in ids:
                    self.arrivals.setdefault(callback_id, now)
        return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hooks", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-async-"))
    database_url, drop = _database(args.postgres, data)
    hubspot = StampingHubSpot().start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CODEHOOK_")},
        "PYTHONPATH": str(ROOT),
        "CODEHOOK_DATA_DIR": str(data),
        "CODEHOOK_DATABASE_URL": database_url,
        "CODEHOOK_REDIS_URL": REDIS_URL,
        "CODEHOOK_HUBSPOT_BASE_URL": hubspot.url,
        "CODEHOOK_HUBSPOT_ACCESS_TOKEN": TOKEN,
    }
    redis.Redis.from_url(REDIS_URL).flushdb()
    port = 8766
    server = _spawn(["serve", "--port", str(port)], env, data / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        hook_token = _setup(base, env)
        print(f"{args.hooks} async hooks, {args.concurrency} in flight, "
              f"{'PostgreSQL' if args.postgres else 'SQLite'}, {os.cpu_count()} cores")  # fmt: skip
        for count in args.workers:
            workers = [
                _spawn(["worker"], env, data / f"worker-{count}-{n}.log") for n in range(count)
            ]
            time.sleep(3)  # zygotes and registration
            try:
                _round(base, hook_token, hubspot, count, args)
            finally:
                for worker in workers:
                    worker.terminate()
                for worker in workers:
                    worker.wait(timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=30)
        hubspot.stop()
        drop()


def _round(base: str, hook_token: str, hubspot: StampingHubSpot, workers: int, args: Any) -> None:
    run = secrets.token_hex(3)
    sent: dict[str, float] = {}
    hubspot.batches.clear()
    client = httpx.Client(base_url=base, timeout=30, headers={"X-Codehook-Token": hook_token})

    def call(n: int) -> int:
        callback_id = f"bench-{run}-{n}"
        sent[callback_id] = time.monotonic()
        body = {"callbackId": callback_id, "object": {"objectId": n, "objectType": "CONTACT"},
                "origin": {"portalId": 1}, "inputFields": {"n": n}}  # fmt: skip
        return client.post("/v1/hooks/bench-async", json=body).status_code

    start = time.monotonic()
    with ThreadPoolExecutor(args.concurrency) as pool:
        statuses = list(pool.map(call, range(args.hooks)))
    accepted = time.monotonic() - start
    deadline = time.monotonic() + 300
    while sum(1 for c in sent if c in hubspot.arrivals) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.05)
    done = {c: hubspot.arrivals[c] - sent[c] for c in sent if c in hubspot.arrivals}
    last = max((hubspot.arrivals[c] for c in done), default=start)
    latencies = sorted(ms * 1000 for ms in done.values())
    rate = len(done) / (last - start)
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    batches = hubspot.batches
    print(f"  {workers} worker(s): {len(done)}/{args.hooks} completed, {rate:6.1f} exec/s "
          f"end to end; p50 {p50:7.1f} ms, p99 {p99:7.1f} ms; hooks accepted at "
          f"{args.hooks / accepted:6.1f}/s ({statuses.count(200)} BLOCK); "
          f"{len(batches)} completion calls, largest batch {max(batches, default=0)}")  # fmt: skip
    client.close()


def _setup(base: str, env: dict[str, str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    out = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "token", "create", "--role", "admin", "--name", "bench"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    admin = out.stdout.strip().splitlines()[-1]
    created = httpx.post(
        f"{base}/v1/snippets",
        headers={"Authorization": f"Bearer {admin}"},
        json={"name": "bench-async", "code": SNIPPET, "mode": "async"},
    )
    created.raise_for_status()
    token: str = created.json()["hookToken"]
    return token


def _spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", *argv], env=env, cwd=ROOT,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _database(postgres: bool, data: Path) -> tuple[str, Any]:
    if not postgres:
        return f"sqlite:///{data / 'codehook.db'}", lambda: None
    name = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


if __name__ == "__main__":
    main()
