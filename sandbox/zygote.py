"""The pre-warmed parent: a lean interpreter that forks one child per execution.

Started by `Executor` as `python -c "...main(sys.argv)" CTRL_FD CONFIG_JSON` with a scrubbed
environment, before (and apart from) anything that holds secrets. It never sees an
event or a secret: those travel on a socket from the executor straight to the child.

Control messages on the SOCK_SEQPACKET socket `CTRL_FD` (one JSON object each):
  executor -> zygote  {"op": "spawn", "id": N, "slot": S} + the child's socket (SCM_RIGHTS)
                      {"op": "kill", "id": N}
  zygote -> executor  {"op": "ready", "rss_kb": ..., "modules": ..., "preload_ms": ...}
                      {"op": "spawned", "id": N, "pid": P}
                      {"op": "exited", "id": N, "status": W, "maxrss_kb": ..., "cpu_ms": ...}
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
import selectors
import signal
import socket
import sys
import tempfile
import time
from functools import cache
from typing import Any

# Everything a snippet may import, loaded once here so that forks share it. A child cannot
# import it later: after its uid switch the interpreter's own files may be unreadable.
STDLIB_PRELOAD = (
    "json", "re", "datetime", "math", "random", "typing", "logging", "decimal", "statistics",
    "collections", "collections.abc", "itertools", "functools", "string", "uuid", "hashlib",
    "hmac", "base64", "zoneinfo", "calendar", "urllib.parse", "html", "copy", "enum",
    "dataclasses", "textwrap", "secrets", "time", "fractions", "threading",
    "concurrent.futures", "concurrent.futures.thread", "encodings.idna",
    "encodings.punycode", "_strptime", "unicodedata", "stringprep",
)  # fmt: skip
LIBRARY_PRELOAD = (
    "requests", "httpx", "hubspot", "hubspot.crm.contacts", "hubspot.crm.companies",
    "hubspot.crm.deals", "hubspot.crm.tickets", "hubspot.crm.line_items",
    "hubspot.crm.products", "hubspot.crm.objects", "hubspot.crm.associations",
    "hubspot.crm.owners", "hubspot.automation.actions",
)  # fmt: skip
RUNTIME_PRELOAD = ("sandbox.language", "sandbox.outputs", "sandbox.child", "sandbox.confine")


@cache
def hubspot_packages() -> tuple[str, ...]:
    """Every `hubspot.*` package name, listed from the filesystem without importing them."""
    try:
        import hubspot
    except ImportError:
        return ()
    found: list[str] = []

    def walk(path: list[str], prefix: str) -> None:
        for info in pkgutil.iter_modules(path, prefix):
            if info.ispkg and not info.name.rsplit(".", 1)[-1].startswith("_"):
                found.append(info.name)
                sub = os.path.join(
                    getattr(info.module_finder, "path", ""), info.name.rsplit(".", 1)[-1]
                )
                walk([sub], info.name + ".")

    walk(list(hubspot.__path__), "hubspot.")
    return tuple(found)


def _warm_up() -> None:
    """Exercise lazy paths (codecs, strptime, time zones) so children never load them."""
    import datetime
    import zoneinfo

    "example.com".encode("idna")
    datetime.datetime.strptime("2024-01-02 03:04", "%Y-%m-%d %H:%M")
    for name in ("UTC", "America/New_York", "Europe/Berlin"):
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError):
            zoneinfo.ZoneInfo(name)
    try:
        import requests

        requests.Request("GET", "https://example.com/x?y=1").prepare()
    except ImportError:
        pass
    hubspot_packages()


def _preload(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            print(f"codehook zygote: cannot preload {name}: {exc}", file=sys.stderr)
    _warm_up()


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


class Zygote:
    def __init__(self, ctrl: socket.socket, config: dict[str, Any]) -> None:
        self.ctrl = ctrl
        self.uid_base: int | None = config.get("uid_base")
        self.hooks = importlib.import_module(config["hooks"]) if config.get("hooks") else None
        if self.hooks is not None and hasattr(self.hooks, "prepare"):
            # Hooks patched once here, closed until each child sets its own policy.
            self.hooks.prepare()
        self.workdir = tempfile.mkdtemp(prefix="codehook-sandbox-")
        os.chmod(self.workdir, 0o555)  # noqa: S103 - empty and read-only: the child's cwd
        self.warnings = self._probe()
        self.children: dict[int, int] = {}  # pid -> execution id
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self._wake_w)

    def _probe(self) -> list[str]:
        """Confine a throwaway child as every child will be; report each layer the host refuses."""
        refused: list[str] = []
        if self.uid_base is not None and not _has_capability(_CAP_KILL):
            # Killing a child of another uid at its time limit needs CAP_KILL.
            refused.append("uid switch off: no CAP_KILL to stop children of another uid")
            self.uid_base = None
        warnings = _confine_probe(self.uid_base, self.workdir)
        if self.uid_base is not None and any(w.startswith("uid switch") for w in warnings):
            refused += warnings  # degrade to the service's uid rather than fail every run
            self.uid_base = None
            warnings = _confine_probe(None, self.workdir)
        elif self.uid_base is None and os.geteuid() != 0:
            warnings.append(f"not root: children keep the service's uid {os.geteuid()}")
        return warnings + refused

    def send(self, message: dict[str, Any]) -> None:
        self.ctrl.send(json.dumps(message).encode())

    def serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.ctrl, selectors.EVENT_READ, "ctrl")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        while True:
            for key, _ in selector.select(timeout=1.0):
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                elif not self._handle_control():
                    self._shutdown()
                    return
            self._reap()

    def _handle_control(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.ctrl, 65536, 4)
        except InterruptedError:
            return True
        if not data:
            return False
        message = json.loads(data)
        if message["op"] == "spawn":
            self._spawn(message["id"], message.get("slot", 0), fds[0])
        elif message["op"] == "kill":
            for fd in fds:
                os.close(fd)
            self._kill(message["id"])
        return True

    def _spawn(self, execution_id: int, slot: int, sock_fd: int) -> None:
        uid = None if self.uid_base is None else self.uid_base + slot
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setpgid(0, 0)
            from sandbox.child import run_forked

            run_forked(sock_fd, uid=uid, gid=uid, workdir=self.workdir, hooks=self.hooks)
        # Both sides set the group, so it is set before either relies on it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        os.close(sock_fd)
        self.children[pid] = execution_id
        self.send({"op": "spawned", "id": execution_id, "pid": pid})

    def _kill(self, execution_id: int) -> None:
        for pid, owner in self.children.items():
            if owner == execution_id:
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                        break
                    except ProcessLookupError:
                        continue

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            execution_id = self.children.pop(pid, None)
            if execution_id is not None:
                self.send(
                    {
                        "op": "exited",
                        "id": execution_id,
                        "status": status,
                        "maxrss_kb": usage.ru_maxrss,
                        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
                    }
                )

    def _shutdown(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.rmdir(self.workdir)


_CAP_KILL = 5


def _has_capability(bit: int) -> bool:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def _confine_probe(uid: int | None, workdir: str) -> list[str]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        found = ["the confinement probe failed"]
        try:
            from sandbox import confine

            found = confine.drop_privileges(uid=uid, gid=uid, workdir=workdir, max_threads=4)
        except OSError as exc:
            found = [f"uid switch to {uid} failed: {exc.strerror} (needs CAP_SETUID, CAP_SETGID)"]
        finally:
            os.write(write_fd, json.dumps(found).encode())
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    return list(json.loads(data)) if data else ["the confinement probe crashed"]


def main(argv: list[str]) -> int:
    ctrl = socket.socket(fileno=int(argv[1]))
    config = json.loads(argv[2])
    started = time.perf_counter()
    _preload(list(config.get("preload", [])))
    zygote = Zygote(ctrl, config)
    zygote.send(
        {
            "op": "ready",
            "rss_kb": _rss_kb(),
            "modules": len(sys.modules),
            "preload_ms": (time.perf_counter() - started) * 1000,
            "warnings": zygote.warnings,
        }
    )
    zygote.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
