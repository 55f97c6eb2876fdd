"""Scale-out on one machine: a second API process, and a second queue worker, side by side.

    .venv/bin/python bench/bench_scale.py [--duration 15] [--concurrency 16] [--backlog-seconds 8]

Sync hooks: `codehook serve --workers 1` then `--workers 2` on PostgreSQL (a fresh schema
each) with Redis (database 13), loaded by bench_hooks' closed-loop load generator (v3-signed
calls, concurrency 16). Async hooks: `serve --workers 2` answers BLOCK while no worker runs,
building a backlog for `--backlog-seconds`; then 1 (or 2) `codehook worker` processes drain it,
completing each HubSpot callback on a local stub. Drain rate = executions finished per second
between the first and the last one. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hooks
from _loadgen import Load, run_in_subprocess
from bench_hooks import (
    POSTGRES_ADMIN_URL,
    Round,
    codehook_round,
    free_port,
    postgres_schema,
    server,
)

REDIS_URL = "redis://127.0.0.1:6379/13"
ASYNC_SNIPPET = "trivial-async"
CLI = [sys.executable, "-m", "runtime.cli"]


class _CallbackStub(BaseHTTPRequestHandler):
    """HubSpot's callback API, answering 204 to everything."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    do_PUT = do_PATCH = do_POST

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def hubspot_stub() -> Iterator[str]:
    stub = ThreadingHTTPServer(("127.0.0.1", 0), _CallbackStub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{stub.server_address[1]}"
    finally:
        stub.shutdown()


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and every live descendant, with the children each has reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except FileNotFoundError:  # exited meanwhile
        return 0.0
    own = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(tree_cpu_seconds(child) for child in children)


def cpu_split_tree(server_pid: int) -> tuple[float, float]:
    """Like bench_hooks.cpu_split, but over every uvicorn worker: service, then sandbox seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    service = sandbox = 0.0
    pending = [server_pid]
    while pending:
        pid = pending.pop()
        try:
            if b"sandbox.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes():
                sandbox += tree_cpu_seconds(pid)
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            service += sum(int(f) for f in fields[11:13]) / tick
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return service, sandbox


def has_worker_command() -> bool:
    done = subprocess.run([*CLI, "--help"], capture_output=True, text=True, check=False)
    return " worker " in done.stdout


def finished(schema_url: str) -> tuple[int, int]:
    """Executions (not pending or running) finished so far, and all executions."""
    schema = schema_url.rsplit("%3D", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL) as connection:
        row = connection.execute(
            f"SELECT count(*) FILTER (WHERE status NOT IN ('pending', 'running')), count(*) "  # noqa: S608 - our own schema name
            f"FROM {schema}.executions"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def async_round(args: argparse.Namespace, workers: int) -> str:
    """Build a backlog of async runs with no worker running, then time `workers` draining it."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    port, client_secret = free_port(), secrets.token_urlsafe(24)
    base = f"http://127.0.0.1:{port}"
    with (
        postgres_schema() as url,
        hubspot_stub() as hubspot,
        tempfile.TemporaryDirectory(prefix="codehook-scale-") as data_dir,
    ):
        env = dict(
            os.environ,
            CODEHOOK_DATA_DIR=data_dir,
            CODEHOOK_DATABASE_URL=url,
            CODEHOOK_REDIS_URL=REDIS_URL,
            CODEHOOK_HUBSPOT_CLIENT_SECRET=client_secret,
            CODEHOOK_HUBSPOT_ACCESS_TOKEN=secrets.token_urlsafe(16),
            CODEHOOK_HUBSPOT_BASE_URL=hubspot,
            CODEHOOK_PUBLIC_URL=base,
        )
        serve = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
        log = Path(tempfile.gettempdir()) / f"codehook-scale-async-{workers}.log"
        with server(serve, env, log, base):
            create = [*CLI, "token", "create", "--role", "admin", "--name", "bench"]
            done = subprocess.run(create, env=env, capture_output=True, text=True, check=True)
            token = done.stdout.strip().splitlines()[-1]
            snippet = {
                "name": ASYNC_SNIPPET,
                "code": "def main(event):\n    return {'outputFields': {'ok': True}}\n",
                "mode": "async",
            }
            auth = {"Authorization": f"Bearer {token}"}
            httpx.post(f"{base}/v1/snippets", json=snippet, headers=auth).raise_for_status()
            print(
                f"  async, {workers} worker(s): backlog for {args.backlog_seconds:.0f} s",
                flush=True,
            )
            hook = f"{base}/v1/hooks/{ASYNC_SNIPPET}"
            samples = run_in_subprocess(
                Load(hook, client_secret, args.concurrency, args.backlog_seconds, warmup=0.0)
            )
            blocked = sum(s.outcome == "200 BLOCK" for s in samples)
            _, total = finished(url)
            processes = [
                subprocess.Popen(
                    [*CLI, "worker", "--name", f"bench-{i}"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=(Path(tempfile.gettempdir()) / f"codehook-scale-worker-{i}.log").open(
                        "wb"
                    ),
                )
                for i in range(workers)
            ]
            cpu = 0.0
            try:
                first = last = None
                deadline = time.monotonic() + 600
                start_done = 0
                while time.monotonic() < deadline:
                    done_count, _ = finished(url)
                    now = time.monotonic()
                    if first is None and done_count > 0:
                        first, start_done = now, done_count
                    if done_count >= total:
                        last = now
                        break
                    time.sleep(0.05)
            finally:
                cpu = sum(tree_cpu_seconds(process.pid) for process in processes)
                for process in processes:
                    process.terminate()
                for process in processes:
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
            if first is None or last is None or last <= first:
                return f"{blocked} BLOCK answers; drain did not finish"
            rate = (total - start_done) / (last - first)
            per_job = cpu * 1000 / max(1, total)
            return (
                f"{total} queued ({blocked} BLOCK): drained at {rate:.1f}/s in "
                f"{last - first:.1f} s, worker CPU {per_job:.1f} ms per job"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per round")
    parser.add_argument("--concurrency", type=int, default=16, help="calls kept in flight")
    parser.add_argument("--backlog-seconds", type=float, default=8.0)
    args = parser.parse_args()
    print(f"$ {shlex.join(sys.orig_argv)}")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, concurrency {args.concurrency}, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    os.environ["CODEHOOK_REDIS_URL"] = REDIS_URL
    redis.Redis.from_url(REDIS_URL).flushdb()
    rounds: list[Round] = []
    bench_hooks.cpu_split = cpu_split_tree  # counts every uvicorn worker, not just the parent
    for workers in (1, 2):
        args.workers = workers
        with postgres_schema() as url:
            rounds.append(codehook_round(args, f"serve --workers {workers}", url))
    del os.environ["CODEHOOK_REDIS_URL"]
    drains: list[tuple[int, str]] = []
    if has_worker_command():
        for workers in (1, 2):
            drains.append((workers, async_round(args, workers)))
    else:
        print("  async rounds skipped: `codehook worker` does not exist (runtime/cli/worker.py)")
    print(f"\nload average after the rounds: {os.getloadavg()[0]:.2f} (other work skews figures)")
    print(
        f"\nsync hooks, PostgreSQL + Redis, {args.duration:.0f} s at concurrency {args.concurrency}"
    )
    print(f"{'':<24}" + "".join(f"{r.name:>34}" for r in rounds))
    rows = [
        ("calls/s (200 SUCCESS)", [f"{r.rate:.1f}" for r in rounds]),
        ("p50 latency ms", [f"{r.percentile(50):.1f}" for r in rounds]),
        ("p99 latency ms", [f"{r.percentile(99):.1f}" for r in rounds]),
        ("executions recorded", [r.recorded for r in rounds]),
        ("CPU ms per call", [r.cpu for r in rounds]),
    ]
    for label, values in rows:
        print(f"{label:<24}" + "".join(f"{v:>34}" for v in values))
    if drains:
        print("\nasync hooks drained by RQ workers (serve --workers 2 idle meanwhile)")
        for workers, figure in drains:
            print(f"  {workers} worker(s): {figure}")


if __name__ == "__main__":
    main()
