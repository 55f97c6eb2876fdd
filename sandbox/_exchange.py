"""One conversation with a sandbox child: send the job, stream its frames, stop it at the limit.

Frames the child sends, in order:
    {"t": "started", "baseline_kb"}       limits applied; the wall-time deadline starts
    {"t": "compiled", "code"}              marshalled code, before any snippet code runs
    {"t": "log", "text"}                   each print / logging record, as it happens
    {"t": "result", "status", ...}         the outcome (absent if the child died)
"""

from __future__ import annotations

import base64
import os
import select
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import _ipc
from sandbox.limits import Limits
from sandbox.result import ErrorInfo, ExecutionResult, ExecutionStatus

# Grace between the child's own deadline and the parent's SIGKILL: time to report a traceback.
KILL_GRACE_SECONDS = 0.5
# Compile and set-up time allowed before the child reports `started`.
_SETUP_SECONDS = 30.0
_TRUNCATION_SLACK = 64


@dataclass
class Exchange:
    result: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)
    log_bytes: int = 0
    baseline_kb: int = 0
    killed: bool = False
    compiled: bytes | None = None
    wall_ms: float = 0.0


def converse(
    sock: socket.socket,
    job: dict[str, Any],
    limits: Limits,
    *,
    kill: Callable[[], None],
    want_compiled: bool,
) -> Exchange:
    """Run the job on `sock` until a result, the child's death, or the wall-time limit."""
    started = time.perf_counter()
    _ipc.send_frame(sock, job)
    reader = _ipc.FrameReader()
    ex = Exchange()
    deadline = started + limits.timeout_seconds + _SETUP_SECONDS
    # Frames before the first log are sent by Codehook's own code, before the snippet runs;
    # only then can a `compiled` frame be trusted.
    trusted = True
    sock.setblocking(False)
    while ex.result is None:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            kill()
            ex.killed = True
            break
        readable, _, _ = select.select([sock], [], [], remaining)
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
            kill()
            ex.killed = True
            break
        for frame in frames:
            kind = frame.get("t")
            if kind == "log":
                trusted = False
                text = str(frame.get("text", ""))
                if ex.log_bytes < limits.log_bytes + _TRUNCATION_SLACK:
                    ex.logs.append(text)
                    ex.log_bytes += len(text)
            elif kind == "started" and trusted:
                ex.baseline_kb = int(frame.get("baseline_kb", 0))
                deadline = time.perf_counter() + limits.timeout_seconds + KILL_GRACE_SECONDS
            elif kind == "compiled" and trusted and want_compiled and ex.compiled is None:
                ex.compiled = base64.b64decode(str(frame.get("code", "")))
                trusted = False
            elif kind == "result":
                ex.result = frame
                break
    ex.wall_ms = (time.perf_counter() - started) * 1000
    return ex


def to_result(
    ex: Exchange,
    *,
    exit_status: int | None,
    maxrss_kb: int,
    cpu_ms: float,
    limits: Limits,
) -> ExecutionResult:
    """The execution result from what the child said, or from how it died."""
    logs = "".join(ex.logs)
    memory_kb = max(0, maxrss_kb - ex.baseline_kb) if maxrss_kb else 0
    frame = ex.result
    if frame is not None:
        error = frame.get("error")
        return ExecutionResult(
            status=ExecutionStatus(frame["status"]),
            output_fields=frame.get("output_fields"),
            logs=logs,
            error=ErrorInfo(**error) if error else None,
            duration_ms=float(frame.get("duration_ms", ex.wall_ms)),
            cpu_ms=float(frame.get("cpu_ms", 0.0)),
            memory_kb=int(frame.get("memory_kb", memory_kb)),
            rate_limited=bool(frame.get("rate_limited")),
            retry_after_seconds=frame.get("retry_after_seconds"),
            extra={"warnings": frame.get("warnings") or [], "issues": frame.get("issues")},
        )
    status, error = _classify_death(exit_status, ex.killed, limits)
    return ExecutionResult(
        status=status,
        logs=logs,
        error=error,
        duration_ms=ex.wall_ms,
        cpu_ms=cpu_ms,
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
