"""Queue test helpers: real `codehook worker` subprocesses, a private redis-server, waiting."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import redis

from tests.runtime.live import LiveServer, free_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
# Short leases, sweeps and back-offs so faults resolve in seconds.
FAST = {
    "SWEEP_INTERVAL_SECONDS": "0.2",
    "WORKER_LEASE_SECONDS": "2",
    "RETRY_BASE_SECONDS": "0.3",
    "HUBSPOT_ACCESS_TOKEN": "test-hubspot-token",
}


def wait_for(check: Callable[[], T | None], *, timeout: float = 30, what: str = "it") -> T:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def worker_env(server: LiveServer, **extra: str) -> dict[str, str]:
    """The environment of a `codehook worker` sharing the server's database and Redis."""
    s = server.settings
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CODEHOOK_") and key != "PYTHONPATH"
    }
    env.update(
        {
            "CODEHOOK_DATA_DIR": str(s.data_dir),
            "CODEHOOK_DATABASE_URL": s.database_url,
            "CODEHOOK_REDIS_URL": s.redis_url or "",
            "CODEHOOK_HUBSPOT_BASE_URL": s.hubspot_base_url,
            "PYTHONPATH": str(ROOT),
            **{f"CODEHOOK_{key}": value for key, value in FAST.items()},
            **{f"CODEHOOK_{key}": value for key, value in extra.items()},
        }
    )
    return env


class Workers:
    """Real `codehook worker` processes, stopped (SIGKILL if need be) at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, server: LiveServer, **extra: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "worker"],
            env=worker_env(server, **extra),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("worker-*.log")))


class RedisServer:
    """A private redis-server on its own port, that a test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)

        def answers() -> bool:
            with contextlib.suppress(redis.ConnectionError):
                return bool(client.ping())
            return False

        wait_for(answers, timeout=10, what="redis-server to start")
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@contextlib.contextmanager
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
