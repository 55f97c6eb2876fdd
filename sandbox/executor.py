"""Runs snippets in isolated children of a pre-warmed zygote; the public face of the sandbox."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox._exchange import converse, to_result
from sandbox.exceptions import ExecutorBusy, ExecutorUnavailable
from sandbox.limits import Limits
from sandbox.redact import redact_result
from sandbox.result import CompileIssue, ExecutionResult, ExecutionStatus
from sandbox.zygote import LIBRARY_PRELOAD, RUNTIME_PRELOAD, STDLIB_PRELOAD

log = logging.getLogger("codehook.sandbox")

DEFAULT_PRELOAD: tuple[str, ...] = STDLIB_PRELOAD + LIBRARY_PRELOAD + RUNTIME_PRELOAD
_COMPILED_CACHE_SIZE = 512
# The first uid of the range children run under when the service runs as root (one uid per slot,
# so that concurrent children cannot signal or trace each other).
DEFAULT_UID_BASE = 61000
_ZYGOTE_MAIN = "import sys; from sandbox.zygote import main; sys.exit(main(sys.argv))"


@dataclass
class _Pending:
    spawned: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)
    pid: int | None = None
    exit_status: int | None = None
    maxrss_kb: int = 0
    cpu_ms: float = 0.0


class Executor:
    """Thread-safe; at most `max_concurrency` children run at once."""

    def __init__(
        self,
        *,
        max_concurrency: int = 8,
        preload: Sequence[str] = DEFAULT_PRELOAD,
        child_hooks: str | None = "connectors.egress",
        uid_base: int | None = DEFAULT_UID_BASE,
    ) -> None:
        self.max_concurrency = max_concurrency
        self._preload = tuple(preload)
        self._hooks = child_hooks
        self._uid_base = uid_base if os.geteuid() == 0 else None
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(max_concurrency):
            self._slots.put(slot)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._ctrl: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.zygote_info: dict[str, Any] = {}
        self._closed = False
        # Compiled code by sha256 of its source: compiling a 50-line snippet costs ~2.5 ms.
        self._compiled: OrderedDict[str, bytes] = OrderedDict()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Executor:
        with self._lock:
            if self._ctrl is None:
                self._start_zygote()
        return self

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stop_zygote()

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def busy(self) -> int:
        """Children running or waiting for a slot right now."""
        return self.max_concurrency - self._slots.qsize()

    def healthy(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _start_zygote(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {"preload": list(self._preload), "hooks": self._hooks, "uid_base": self._uid_base}
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "PYTHONDONTWRITEBYTECODE": "1",
            # Threads would each reserve a 64 MB malloc arena, counted against RLIMIT_AS.
            "MALLOC_ARENA_MAX": "2",
        }
        self._process = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE_MAIN, str(child.fileno()), json.dumps(config)],
            env=env,
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            cwd="/",
        )
        child.close()
        ready = json.loads(parent.recv(65536) or b"{}")
        if ready.get("op") != "ready":
            self._process.kill()
            raise ExecutorUnavailable("the sandbox zygote did not start")
        self.zygote_info = ready
        self._ctrl = parent
        threading.Thread(
            target=self._read_control, args=(parent,), name="codehook-zygote", daemon=True
        ).start()
        log.info("sandbox zygote started", extra={"zygote": ready})
        if ready.get("warnings"):
            # Loud at start: otherwise a weaker sandbox shows only in each execution's warnings.
            log.warning("sandbox layers unavailable: %s", "; ".join(ready["warnings"]))

    def _stop_zygote(self) -> None:
        if self._ctrl is not None:
            # shutdown() wakes the reader thread blocked in recv(); close() alone would not,
            # and the zygote would never see the end of its control channel.
            with contextlib.suppress(OSError):
                self._ctrl.shutdown(socket.SHUT_RDWR)
            self._ctrl.close()
            self._ctrl = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def _read_control(self, ctrl: socket.socket) -> None:
        while True:
            try:
                data = ctrl.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            pending = self._pending.get(message.get("id", -1))
            if pending is None:
                continue
            if message["op"] == "spawned":
                pending.pid = message["pid"]
                pending.spawned.set()
            elif message["op"] == "exited":
                pending.exit_status = message["status"]
                pending.maxrss_kb = message["maxrss_kb"]
                pending.cpu_ms = message["cpu_ms"]
                pending.spawned.set()
                pending.exited.set()
        # The zygote is gone: release every waiter; the next run starts a new zygote.
        with self._lock:
            if self._ctrl is ctrl:
                self._ctrl = None
        for pending in list(self._pending.values()):
            pending.spawned.set()
            pending.exited.set()

    def _control(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        with self._lock:
            if self._closed:
                raise ExecutorUnavailable("the executor is closed")
            if self._ctrl is None:
                self._stop_zygote()
                self._start_zygote()
            ctrl = self._ctrl
        assert ctrl is not None
        with self._send_lock:
            socket.send_fds(ctrl, [json.dumps(message).encode()], list(fds))

    # -- running ----------------------------------------------------------------------------

    def run(
        self,
        code: str,
        event: Mapping[str, Any],
        *,
        secrets: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        output_types: Mapping[str, Any] | None = None,
        egress: Mapping[str, Any] | None = None,
        wait_seconds: float | None = None,
    ) -> ExecutionResult:
        """Run `main(event)` in a fresh child; `wait_seconds` bounds the wait for a free slot."""
        limits = limits or Limits()
        secrets = dict(secrets or {})
        job = {
            "code": code,
            "event": dict(event),
            "secrets": secrets,
            "limits": limits.to_dict(),
            "output_types": dict(output_types) if output_types else None,
            "egress": dict(egress) if egress else None,
        }
        with self._slot(wait_seconds) as slot:
            result = self._run_in_child(slot, job, limits)
        return redact_result(result, secrets)

    def check(self, code: str, *, wait_seconds: float | None = None) -> list[CompileIssue]:
        """Compile under the sandbox policy, in a child: compiling untrusted source can crash."""
        limits = Limits(timeout_seconds=10)
        job = {"code": code, "event": {}, "limits": limits.to_dict(), "compile_only": True}
        with self._slot(wait_seconds) as slot:
            result = self._run_in_child(slot, job, limits)
        if result.status is ExecutionStatus.SUCCESS:
            return []
        issues = result.extra.get("issues")
        if issues:
            return [CompileIssue(**issue) for issue in issues]
        message = result.error.message if result.error else "the compiler crashed"
        return [CompileIssue(f"the snippet could not be compiled: {message}")]

    @contextlib.contextmanager
    def _slot(self, wait_seconds: float | None) -> Iterator[int]:
        try:
            slot = self._slots.get(timeout=wait_seconds)
        except queue.Empty:
            raise ExecutorBusy(
                f"all {self.max_concurrency} sandbox slots are busy", retry_after=1.0
            ) from None
        try:
            yield slot
        finally:
            self._slots.put(slot)

    def _run_in_child(self, slot: int, job: dict[str, Any], limits: Limits) -> ExecutionResult:
        execution_id = next(self._ids)
        pending = _Pending()
        self._pending[execution_id] = pending
        key = hashlib.sha256(job["code"].encode()).hexdigest()
        compiled = self._compiled.get(key)
        if compiled is not None:
            job["compiled"] = base64.b64encode(compiled).decode()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                self._control({"op": "spawn", "id": execution_id, "slot": slot}, [theirs.fileno()])
            finally:
                theirs.close()
            ex = converse(
                ours,
                job,
                limits,
                kill=lambda: self._control({"op": "kill", "id": execution_id}),
                want_compiled=compiled is None,
            )
            if ex.result is None:
                # Only a child that died without reporting needs its exit status explained.
                pending.exited.wait(timeout=5.0)
        finally:
            ours.close()
            self._pending.pop(execution_id, None)
        if ex.compiled is not None:
            self._remember(key, ex.compiled)
        return to_result(
            ex,
            exit_status=pending.exit_status,
            maxrss_kb=pending.maxrss_kb,
            cpu_ms=pending.cpu_ms,
            limits=limits,
        )

    def _remember(self, key: str, compiled: bytes) -> None:
        with self._lock:
            self._compiled[key] = compiled
            self._compiled.move_to_end(key)
            while len(self._compiled) > _COMPILED_CACHE_SIZE:
                self._compiled.popitem(last=False)
