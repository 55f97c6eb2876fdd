"""Runs snippets in isolated children of a pre-warmed zygote; the public face of the sandbox."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox import _ipc
from sandbox.exceptions import ExecutorBusy, ExecutorUnavailable
from sandbox.limits import Limits
from sandbox.redact import redact_result
from sandbox.result import CompileIssue, ErrorInfo, ExecutionResult, ExecutionStatus
from sandbox.zygote import LIBRARY_PRELOAD, RUNTIME_PRELOAD, STDLIB_PRELOAD

log = logging.getLogger("codehook.sandbox")

DEFAULT_PRELOAD: tuple[str, ...] = STDLIB_PRELOAD + LIBRARY_PRELOAD + RUNTIME_PRELOAD
# Grace between the child's own deadline and the parent's SIGKILL: time to report a traceback.
_KILL_GRACE_SECONDS = 0.5
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

    def _stop_zygote(self) -> None:
        if self._ctrl is not None:
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
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                self._control({"op": "spawn", "id": execution_id, "slot": slot}, [theirs.fileno()])
            finally:
                theirs.close()
            return self._converse(execution_id, pending, ours, job, limits)
        finally:
            ours.close()
            self._pending.pop(execution_id, None)

    def _converse(
        self,
        execution_id: int,
        pending: _Pending,
        sock: socket.socket,
        job: dict[str, Any],
        limits: Limits,
    ) -> ExecutionResult:
        started = time.perf_counter()
        _ipc.send_frame(sock, job)
        reader = _ipc.FrameReader()
        logs: list[str] = []
        baseline_kb = 0
        result: dict[str, Any] | None = None
        deadline: float | None = None  # set once the child reports it has started running
        hard_stop = started + limits.timeout_seconds + 30.0  # compile and setup included
        killed = False
        sock.setblocking(False)
        while result is None:
            now = time.perf_counter()
            limit_at = min(hard_stop, deadline) if deadline is not None else hard_stop
            if now >= limit_at:
                self._control({"op": "kill", "id": execution_id})
                killed = True
                break
            readable, _, _ = select.select([sock], [], [], limit_at - now)
            if not readable:
                continue
            try:
                data = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                break
            try:
                frames = reader.feed(data)
            except (_ipc.FrameError, ValueError):
                self._control({"op": "kill", "id": execution_id})
                killed = True
                break
            for frame in frames:
                kind = frame.get("t")
                if kind == "log" and sum(map(len, logs)) < limits.log_bytes + 64:
                    logs.append(str(frame.get("text", "")))
                elif kind == "started":
                    baseline_kb = int(frame.get("baseline_kb", 0))
                    deadline = time.perf_counter() + limits.timeout_seconds + _KILL_GRACE_SECONDS
                elif kind == "result":
                    result = frame
        if result is None:
            # Only a child that died without reporting needs its exit status to be explained.
            pending.exited.wait(timeout=5.0)
        wall_ms = (time.perf_counter() - started) * 1000
        return self._to_result(result, pending, "".join(logs), baseline_kb, killed, wall_ms, limits)

    @staticmethod
    def _to_result(
        frame: dict[str, Any] | None,
        pending: _Pending,
        logs: str,
        baseline_kb: int,
        killed: bool,
        wall_ms: float,
        limits: Limits,
    ) -> ExecutionResult:
        memory_kb = max(0, pending.maxrss_kb - baseline_kb) if pending.maxrss_kb else 0
        if frame is not None:
            error = frame.get("error")
            return ExecutionResult(
                status=ExecutionStatus(frame["status"]),
                output_fields=frame.get("output_fields"),
                logs=logs,
                error=ErrorInfo(**error) if error else None,
                duration_ms=float(frame.get("duration_ms", wall_ms)),
                cpu_ms=float(frame.get("cpu_ms", 0.0)),
                memory_kb=int(frame.get("memory_kb", memory_kb)),
                rate_limited=bool(frame.get("rate_limited")),
                retry_after_seconds=frame.get("retry_after_seconds"),
                extra={"warnings": frame.get("warnings") or [], "issues": frame.get("issues")},
            )
        status, error = _classify_death(pending.exit_status, killed, limits)
        return ExecutionResult(
            status=status,
            logs=logs,
            error=error,
            duration_ms=wall_ms,
            cpu_ms=pending.cpu_ms,
            memory_kb=memory_kb,
        )


def _classify_death(
    wait_status: int | None, killed: bool, limits: Limits
) -> tuple[ExecutionStatus, ErrorInfo]:
    """Turn a child that died without reporting into a result the caller can show."""
    if killed:
        return ExecutionStatus.TIMEOUT, ErrorInfo(
            "TimeoutError", f"execution exceeded its time limit of {limits.timeout_seconds:g} s"
        )
    if wait_status is not None and os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig == signal.SIGXCPU:
            return ExecutionStatus.TIMEOUT, ErrorInfo(
                "TimeoutError",
                f"execution exceeded its CPU time limit of {limits.timeout_seconds:g} s",
            )
        if sig == signal.SIGKILL:
            return ExecutionStatus.MEMORY_EXCEEDED, ErrorInfo(
                "MemoryError",
                f"execution was killed, likely over its memory limit of {limits.memory_mb} MB",
            )
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return ExecutionStatus.CRASHED, ErrorInfo(
            "Crashed", f"the snippet's process crashed with signal {name}"
        )
    code = os.WEXITSTATUS(wait_status) if wait_status is not None else None
    return ExecutionStatus.CRASHED, ErrorInfo(
        "Crashed", f"the snippet's process ended without a result (exit status {code})"
    )
