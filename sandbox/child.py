"""One execution inside a freshly forked child: confine, compile, run, report.

Runs only in the child; the parent learns everything through frames on `sock`.
"""

from __future__ import annotations

import ast
import base64
import importlib
import marshal
import math
import os
import resource
import signal
import socket
import time
import types
from typing import Any, NoReturn

from sandbox import _ipc, confine
from sandbox.exceptions import SnippetCompileError
from sandbox.limits import Limits
from sandbox.result import ErrorInfo, ExecutionStatus

# Memory the runtime itself needs on top of the snapshot (stack growth, allocator slack).
_RUNTIME_HEADROOM_BYTES = 48 * 1024 * 1024
_MAX_OPEN_FILES = 64


class Deadline(BaseException):
    """Raised into the snippet at its time limit; BaseException, so `except Exception` misses it."""


class _LogSink:
    """Streams captured output to the parent as it is written, up to the log limit."""

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self._sock = sock
        self._left = limit
        self._truncated = False

    def write(self, text: str) -> None:
        if self._truncated or not text:
            return
        data = text.encode("utf-8", "replace")
        if len(data) > self._left:
            data = data[: self._left]
            self._truncated = True
        self._left -= len(data)
        if data:
            _ipc.send_frame(self._sock, {"t": "log", "text": data.decode("utf-8", "ignore")})
        if self._truncated:
            _ipc.send_frame(self._sock, {"t": "log", "text": "\n[log truncated]\n"})


def run_forked(
    sock_fd: int, *, uid: int | None, gid: int | None, workdir: str, hooks: Any
) -> NoReturn:
    """Entry point in the forked child; never returns."""
    try:
        sock = socket.socket(fileno=sock_fd)
        confine.close_inherited_fds(keep=[sock_fd])
        job = _ipc.recv_frame(sock)
        result = _execute(sock, job, uid=uid, gid=gid, workdir=workdir, hooks=hooks)
        _ipc.send_frame(sock, {"t": "result", **result})
    except BaseException:  # noqa: S110 - the parent turns a silent exit into a `crashed` result
        pass
    os._exit(0)


def _execute(
    sock: socket.socket,
    job: dict[str, Any],
    *,
    uid: int | None,
    gid: int | None,
    workdir: str,
    hooks: Any,
) -> dict[str, Any]:
    from sandbox import language

    limits = Limits(**job["limits"])
    baseline_kb = job["baseline_kb"] = _rss_kb()
    confine.limit_resources(
        memory_bytes=_vm_bytes() + limits.memory_mb * 1024 * 1024 + _RUNTIME_HEADROOM_BYTES,
        cpu_seconds=math.ceil(limits.timeout_seconds) + 1,
        max_open_files=_MAX_OPEN_FILES,
    )
    _ipc.send_frame(sock, {"t": "started", "baseline_kb": baseline_kb})
    source: str = job["code"]
    try:
        code = _compiled(sock, job, source)
    except SnippetCompileError as exc:
        if job.get("compile_only"):
            return {
                "status": ExecutionStatus.ERROR.value,
                "issues": [i.to_dict() for i in exc.issues],
            }
        first = exc.issues[0] if exc.issues else None
        refused = ErrorInfo("CompileError", str(exc), first.line if first else None)
        return {"status": ExecutionStatus.ERROR.value, "error": refused.to_dict()}
    if job.get("compile_only"):
        return {"status": ExecutionStatus.SUCCESS.value, "issues": []}
    _preimport(source)
    if hooks is not None:
        hooks.install_in_child(hooks.EgressPolicy.from_dict(job.get("egress") or {}))
    warnings = confine.drop_privileges(
        uid=uid, gid=gid, workdir=workdir, max_threads=job.get("max_threads", 32)
    )
    sink = _LogSink(sock, limits.log_bytes)
    globals_ = language.build_globals(secrets=job.get("secrets") or {}, log=sink.write)
    return {**_run_main(code, source, job, globals_, limits, hooks), "warnings": warnings}


def _run_main(
    code: types.CodeType,
    source: str,
    job: dict[str, Any],
    globals_: dict[str, Any],
    limits: Limits,
    hooks: Any,
) -> dict[str, Any]:
    """Call `main(event)` under the in-child deadline and classify how it ended."""
    from sandbox import language, outputs

    specs = outputs.parse_output_fields(job.get("output_types"))

    def _on_deadline(signum: int, frame: types.FrameType | None) -> None:
        raise Deadline(f"execution exceeded its time limit of {limits.timeout_seconds:g} s")

    signal.signal(signal.SIGALRM, _on_deadline)
    started, cpu_started = time.perf_counter(), time.process_time()
    status, output, retry_after = ExecutionStatus.SUCCESS, None, None
    error: ErrorInfo | None = None
    signal.setitimer(signal.ITIMER_REAL, limits.timeout_seconds)
    try:
        value = language.call_main(code, job["event"], globals_)
        signal.setitimer(signal.ITIMER_REAL, 0)
        output = outputs.normalize_outputs(value, specs, max_bytes=limits.output_bytes)
    except Deadline as exc:
        status, where = ExecutionStatus.TIMEOUT, language.describe_error(exc, source)
        error = ErrorInfo("TimeoutError", str(exc), where.line, where.traceback)
    except MemoryError as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        status, where = ExecutionStatus.MEMORY_EXCEEDED, language.describe_error(exc, source)
        message = f"execution exceeded its memory limit of {limits.memory_mb} MB"
        error = ErrorInfo("MemoryError", message, where.line, where.traceback)
    except outputs.OutputInvalid as exc:
        status, error = ExecutionStatus.OUTPUT_INVALID, ErrorInfo("OutputInvalid", str(exc))
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        status, error = ExecutionStatus.ERROR, language.describe_error(exc, source)
        retry_after = hooks.rate_limit_of(exc) if hooks is not None else None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "status": status.value,
        "output_fields": output,
        "error": error.to_dict() if error else None,
        "duration_ms": (time.perf_counter() - started) * 1000,
        "cpu_ms": (time.process_time() - cpu_started) * 1000,
        "memory_kb": max(0, usage.ru_maxrss - job["baseline_kb"]),
        "rate_limited": retry_after is not None,
        "retry_after_seconds": retry_after,
    }


def _compiled(sock: socket.socket, job: dict[str, Any], source: str) -> types.CodeType:
    """The snippet's code: the parent's cached compilation, or compiled now and offered for caching."""
    from sandbox import language

    cached = job.get("compiled")
    if cached:
        # The parent caches only frames sent before any snippet code ran (see _exchange.py).
        code = marshal.loads(base64.b64decode(cached))  # noqa: S302 - trusted, see above
        if isinstance(code, types.CodeType):
            return code
    code = language.compile_snippet(source)
    # Sent before any snippet code runs: the parent trusts only frames from this phase.
    _ipc.send_frame(sock, {"t": "compiled", "code": base64.b64encode(marshal.dumps(code)).decode()})
    return code


def _preimport(source: str) -> None:
    """Import the `hubspot` packages this snippet reaches while the Python install is readable.

    After the uid switch the child may not read the Python installation; `hubspot` loads its API
    packages lazily on attribute access (`client.crm.deals`), so load those named in the source now.
    """
    if "hubspot" not in source:
        return
    try:
        tree = ast.parse(source)
    except (SyntaxError, RecursionError, MemoryError):
        return
    names: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    from sandbox.zygote import hubspot_packages

    for package in hubspot_packages():
        parts = package.split(".")[1:]
        if package in modules or (parts and all(part in names for part in parts)):
            try:
                importlib.import_module(package)
            except Exception:  # noqa: S112 - the snippet will see the ImportError itself
                continue


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
