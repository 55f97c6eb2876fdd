"""The OS layer on its own: a real fork confined exactly as a sandbox child is.

These prove the seccomp filter, uid switch and rlimits hold even for code that somehow got
past the language layer (here: trusted test code calling `os` directly).
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from collections.abc import Callable

import pytest

from sandbox import confine

Probe = Callable[[], object]


def _confined(probe: Probe) -> str:
    """Run `probe` in a fork after the child's confinement; return 'ok' or the errno name."""
    read_end, write_end = os.pipe()
    workdir = tempfile.mkdtemp()
    os.chmod(workdir, 0o555)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            confine.limit_resources(memory_bytes=None, cpu_seconds=5, max_open_files=64)
            uid = 61999 if os.geteuid() == 0 else None
            confine.drop_privileges(uid=uid, gid=uid, workdir=workdir, max_threads=16)
            try:
                probe()
                outcome = "ok"
            except OSError as exc:
                outcome = errno.errorcode.get(exc.errno or 0, str(exc))
            os.write(write_end, outcome.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        outcome = pipe.read().decode()
    os.waitpid(pid, 0)
    os.rmdir(workdir)
    return outcome


def _fork() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)


def _thread() -> None:
    import threading

    worker = threading.Thread(target=lambda: None)
    worker.start()
    worker.join()


PROBES: list[tuple[str, Probe, set[str]]] = [
    ("fork", _fork, {"EPERM"}),
    ("execve", lambda: os.execv("/bin/true", ["/bin/true"]), {"EPERM"}),
    ("write-a-file-in-tmp", lambda: open("/tmp/codehook-escape", "w"), {"EACCES"}),  # noqa: SIM115
    ("create-in-cwd", lambda: os.open("x", os.O_CREAT | os.O_WRONLY), {"EACCES"}),
    ("unlink", lambda: os.unlink("/etc/hostname"), {"EPERM"}),
    ("mkdir", lambda: os.mkdir("/tmp/codehook-dir"), {"EPERM"}),
    ("unix-socket", lambda: socket.socket(socket.AF_UNIX), {"EAFNOSUPPORT"}),
    ("raw-packet-socket", lambda: socket.socket(17, socket.SOCK_RAW), {"EAFNOSUPPORT"}),
    ("signal-another-process", lambda: os.kill(1, 0), {"EPERM"}),
    ("become-root-again", lambda: os.setuid(0), {"EPERM"}),
    ("read-root-only-file", lambda: open("/etc/shadow").read(), {"EACCES", "ENOENT"}),  # noqa: SIM115
    ("threads-still-work", _thread, {"ok"}),
    ("tcp-socket-still-works", lambda: socket.socket(socket.AF_INET).close(), {"ok"}),
]


@pytest.mark.parametrize(("probe", "expected"), [pytest.param(p, e, id=i) for i, p, e in PROBES])
def test_confined_child_is_refused_or_allowed(probe: Probe, expected: set[str]) -> None:
    """Each escape the OS layer must close fails with the expected errno; ordinary work succeeds."""
    assert _confined(probe) in expected


def test_seccomp_filter_is_available_here() -> None:
    """On these machines the filter compiles; a missing layer would be reported as a warning."""
    assert confine._BPF, confine._BPF_ERROR
