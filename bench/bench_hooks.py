"""Hook calls end to end: `codehook serve` on SQLite and PostgreSQL, side by side with a ceiling.

    .venv/bin/python bench/bench_hooks.py [--duration 20] [--concurrency 16] [--no-postgres]
                                          [--workers 1]

A load generator in a separate process keeps `--concurrency` v3-signed calls to a trivial
snippet's hook in flight for `--duration` seconds (after a 2 s warm-up that is not counted),
each with a fresh callbackId. Afterwards every 200 is checked against `GET /v1/executions`.
The ceiling is a bare FastAPI endpoint in this file doing the same work in-process (parse,
verify the v3 signature, exec the snippet) without isolation or recording.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _loadgen import Load, Sample, run_in_subprocess

TRIVIAL = "def main(event):\n    return {'outputFields': {'ok': True}}\n"
SNIPPET = "trivial"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_RATE = 200.0
TARGET_P99_MS = 50.0


@dataclass
class Round:
    name: str
    samples: list[Sample]
    warmup: float
    recorded: str = "n/a (nothing recorded)"
    cpu: str = "n/a"
    measured: list[Sample] = field(init=False)

    def __post_init__(self) -> None:
        self.measured = [s for s in self.samples if s.started >= self.warmup]

    @property
    def ok(self) -> list[float]:
        return [s.latency_ms for s in self.measured if s.outcome == "200 SUCCESS"]

    @property
    def rate(self) -> float:
        if not self.measured:
            return 0.0
        window = max(s.started + s.latency_ms / 1000 for s in self.measured) - self.warmup
        return len(self.ok) / window

    def percentile(self, q: int) -> float:
        ok = self.ok
        return statistics.quantiles(ok, n=100)[q - 1] if len(ok) > 1 else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(
    command: list[str], env: dict[str, str], log: Path, base: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command`, wait for `/readyz`; stop it with SIGTERM afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after 60 s; see {log}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cpu_seconds(pid: int, *, with_children: bool) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = [int(f) for f in fields[11:15]]  # utime, stime, cutime, cstime
    return sum(ticks if with_children else ticks[:2]) / os.sysconf("SC_CLK_TCK")


def cpu_split(server_pid: int) -> tuple[float, float]:
    """CPU seconds so far of the service process, and of its sandbox zygote with reaped children."""
    children: list[int] = []
    for task in Path(f"/proc/{server_pid}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    sandbox = sum(_cpu_seconds(pid, with_children=True) for pid in children)
    return _cpu_seconds(server_pid, with_children=False), sandbox


def recorded_check(base: str, token: str, samples: list[Sample]) -> str:
    """How many 200 responses (warm-up included) have a SUCCESS execution record."""
    recorded: dict[str | None, str] = {}
    cursor: str | None = None
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            params: dict[str, Any] = {"snippet": SNIPPET, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/executions", params=params, timeout=30).raise_for_status()
            data = page.json()
            recorded |= {item["callbackId"]: item["status"] for item in data["items"]}
            cursor = data["nextCursor"]
            if not cursor:
                break
    answered = [s.callback_id for s in samples if s.outcome.startswith("200")]
    found = sum(recorded.get(cid) == "success" for cid in answered)
    return f"{found}/{len(answered)} recorded ({len(recorded)} rows)"


def load(args: argparse.Namespace, name: str, base: str, client_secret: str) -> Round:
    """Run the load generator against `base`'s trivial hook; the round's samples."""
    print(f"  {name}: loading {base} for {Load.warmup:.0f}+{args.duration:.0f} s...", flush=True)
    url = f"{base}/v1/hooks/{SNIPPET}"
    samples = run_in_subprocess(Load(url, client_secret, args.concurrency, args.duration))
    return Round(name, samples, warmup=Load.warmup)


def codehook_round(args: argparse.Namespace, name: str, database_url: str = "") -> Round:
    port, client_secret = free_port(), secrets.token_urlsafe(24)
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="codehook-bench-") as data_dir:
        env = dict(
            os.environ,
            CODEHOOK_DATA_DIR=data_dir,
            CODEHOOK_DATABASE_URL=database_url,
            CODEHOOK_HUBSPOT_CLIENT_SECRET=client_secret,
            CODEHOOK_PUBLIC_URL=base,
        )
        cli = [sys.executable, "-m", "runtime.cli"]
        serve = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
        log = Path(tempfile.gettempdir()) / f"codehook-bench-{name.lower()}.log"
        with server([*serve, "--workers", str(args.workers)], env, log, base) as process:
            create = [*cli, "token", "create", "--role", "admin", "--name", "bench"]
            done = subprocess.run(create, env=env, capture_output=True, text=True, check=True)
            token = done.stdout.strip().splitlines()[-1]
            snippet = {"name": SNIPPET, "code": TRIVIAL}
            auth = {"Authorization": f"Bearer {token}"}
            httpx.post(f"{base}/v1/snippets", json=snippet, headers=auth).raise_for_status()
            before = cpu_split(process.pid)
            result = load(args, name, base, client_secret)
            after = cpu_split(process.pid)
            calls = max(1, len(result.samples))
            service, sandbox = ((a - b) * 1000 / calls for a, b in zip(after, before, strict=True))
            result.cpu = f"service {service:.1f} + sandbox {sandbox:.1f}"
            result.recorded = recorded_check(base, token, result.samples)
    return result


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the `test` database; yields a SQLAlchemy URL that uses only it."""
    import psycopg

    schema = f"codehook_bench_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield (
            f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
        )
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def ceiling_app_from_env() -> FastAPI:
    """The ceiling: parse, verify the v3 signature, exec the snippet; nothing else."""
    from connectors.hubspot import SignatureError, verify_request

    client_secret, public_url = os.environ["BENCH_CLIENT_SECRET"], os.environ["BENCH_PUBLIC_URL"]
    compiled = compile(TRIVIAL, "<snippet>", "exec")
    app = FastAPI()

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/hooks/{name}")
    async def hook(name: str, request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify_request(
                client_secret=client_secret,
                method=request.method,
                uri=public_url + request.url.path,
                body=body,
                headers=request.headers,
            )
        except SignatureError as exc:
            return JSONResponse({"error": {"code": "bad_signature", "message": str(exc)}}, 401)
        event = json.loads(body)
        namespace: dict[str, Any] = {"__name__": "snippet"}
        exec(compiled, namespace)  # noqa: S102 - the unisolated ceiling, on purpose
        outputs = namespace["main"](event)["outputFields"]
        return JSONResponse({"outputFields": {**outputs, "hs_execution_state": "SUCCESS"}})

    return app


def ceiling_round(args: argparse.Namespace) -> Round:
    port, client_secret = free_port(), secrets.token_urlsafe(24)
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, BENCH_CLIENT_SECRET=client_secret, BENCH_PUBLIC_URL=base)
    serve = [sys.executable, __file__, "--serve-ceiling", str(port)]
    log = Path(tempfile.gettempdir()) / "codehook-bench-ceiling.log"
    with server([*serve, "--workers", str(args.workers)], env, log, base):
        return load(args, "ceiling", base, client_secret)


def serve_ceiling(port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "bench_hooks:ceiling_app_from_env",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def print_table(rounds: list[Round]) -> None:
    ceiling = next((r for r in rounds if r.name == "ceiling"), None)
    rows: list[tuple[str, str, list[str]]] = [
        ("calls/s (200 SUCCESS)", f">= {TARGET_RATE:.0f}", [f"{r.rate:.1f}" for r in rounds]),
        ("p50 latency ms", "", [f"{r.percentile(50):.1f}" for r in rounds]),
        ("p95 latency ms", "", [f"{r.percentile(95):.1f}" for r in rounds]),
        ("p99 latency ms", f"< {TARGET_P99_MS:.0f}", [f"{r.percentile(99):.1f}" for r in rounds]),
        ("max latency ms", "", [f"{max(r.ok, default=0):.1f}" for r in rounds]),
        ("calls counted", "", [str(len(r.measured)) for r in rounds]),
    ]
    outcomes = sorted({s.outcome for r in rounds for s in r.measured})
    for outcome in outcomes:
        counts = [str(Counter(s.outcome for s in r.measured)[outcome]) for r in rounds]
        rows.append((f"  status {outcome}", "", counts))
    rows.append(("executions recorded", "all 200s", [r.recorded for r in rounds]))
    rows.append(("CPU ms per call", "", [r.cpu for r in rounds]))
    if ceiling is not None and ceiling.rate:
        ratios = [f"{r.rate / ceiling.rate:.1%}" for r in rounds]
        rows.append(("throughput / ceiling", "", ratios))
    widths = [max(14, *(len(v[i]) + 2 for _, _, v in rows)) for i in range(len(rounds))]
    rows.insert(0, ("", "target", [r.name for r in rounds]))
    for label, target, values in rows:
        cells = "".join(f"{v:>{w}}" for v, w in zip(values, widths, strict=True))
        print(f"{label:<24}{target:<12}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per round")
    parser.add_argument("--concurrency", type=int, default=16, help="calls kept in flight")
    parser.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--serve-ceiling", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_ceiling:
        serve_ceiling(args.serve_ceiling, args.workers)
        return

    slots = os.environ.get("CODEHOOK_EXECUTOR_CONCURRENCY", "8 (default)")
    print(f"$ {shlex.join(sys.orig_argv)}")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, concurrency {args.concurrency}, "
        f"{args.duration:.0f} s measured after {Load.warmup:.0f} s warm-up, "
        f"{args.workers} worker(s), executor slots {slots}, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    rounds = [codehook_round(args, "SQLite")]
    if args.postgres:
        with postgres_schema() as url:
            rounds.append(codehook_round(args, "PostgreSQL", url))
    rounds.append(ceiling_round(args))
    print(f"\nload average after the rounds: {os.getloadavg()[0]:.2f} (other work skews figures)")
    print_table(rounds)


if __name__ == "__main__":
    main()
