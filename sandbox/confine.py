"""OS-level confinement applied inside the sandbox child, in two steps.

`limit_resources` runs first, while the child may still read the interpreter's files;
`drop_privileges` runs last, right before untrusted code: a non-root uid, no new
privileges, and a seccomp filter. Each layer that the machine cannot apply is reported
back as a warning instead of failing the execution.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import resource
import signal
import tempfile
from collections.abc import Iterable
from types import ModuleType
from typing import Any

# Imported here, in the zygote: after its uid switch a child may not read the Python install.
_seccomp: ModuleType | None
try:
    import pyseccomp

    _seccomp = pyseccomp
except (ImportError, OSError):  # libseccomp missing on this machine
    _seccomp = None

_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_NO_NEW_PRIVS = 38
_CLONE_THREAD = 0x00010000
_AF_UNIX = 1
_AF_NETLINK = 16
_AF_PACKET = 17
_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)

# Syscalls a snippet never needs: new programs and processes, debugging other processes,
# namespaces and mounts, kernel modules, identity changes, and changes to the filesystem.
_DENIED_SYSCALLS = (
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
    "kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsmount",
    "move_mount", "open_tree", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "reboot", "swapon", "swapoff", "bpf", "perf_event_open",
    "userfaultfd", "keyctl", "add_key", "request_key", "open_by_handle_at",
    "name_to_handle_at", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
    "setgroups", "setfsuid", "setfsgid", "capset", "personality", "acct", "quotactl",
    "iopl", "ioperm", "syslog", "kcmp", "creat", "link", "linkat", "symlink", "symlinkat",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
    "mknod", "mknodat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown",
    "fchownat", "truncate", "utime", "utimes", "utimensat", "futimesat", "setxattr",
    "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
)  # fmt: skip


def close_inherited_fds(keep: Iterable[int]) -> None:
    """Point 0-2 at /dev/null and close every other descriptor not in `keep`."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    keep_set = {0, 1, 2, *keep}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep_set:
            # The listing's own descriptor is already gone by now.
            with contextlib.suppress(OSError):
                os.close(fd)


def limit_resources(*, memory_bytes: int | None, cpu_seconds: int, max_open_files: int) -> None:
    """Memory, CPU, file size, descriptors and core dumps; the kernel enforces them."""
    if memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))
    # A write past RLIMIT_FSIZE then fails with EFBIG instead of killing the child.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def drop_privileges(
    *, uid: int | None, gid: int | None, workdir: str, max_threads: int
) -> list[str]:
    """Switch to the sandbox uid, forbid new privileges and load the seccomp filter."""
    warnings: list[str] = []
    os.chdir(workdir)
    os.umask(0o777)
    if uid is not None and gid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        # RLIMIT_NPROC counts per uid and is ignored for root, hence set after the switch.
        resource.setrlimit(resource.RLIMIT_NPROC, (max_threads, max_threads))
        os.setresuid(uid, uid, uid)
    elif os.geteuid() == 0:
        warnings.append("running as root: no sandbox uid configured")
    if _LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        warnings.append(f"PR_SET_NO_NEW_PRIVS failed: {os.strerror(ctypes.get_errno())}")
    warnings.extend(_load_seccomp())
    return warnings


def _build_seccomp_filter() -> Any:
    """Build the filter once, in the zygote; every child loads the same compiled rules."""
    sc = _seccomp
    if sc is None:
        return None
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    for name in _DENIED_SYSCALLS:
        try:
            f.add_rule(deny, name)
        except Exception:  # noqa: S112 - a syscall this architecture does not have
            continue
    # Threads (clone with CLONE_THREAD) stay possible; a new process does not.
    f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    # glibc falls back to clone() only when clone3 answers ENOSYS. io_uring performs file and
    # network I/O that seccomp never sees; openat2 hides its flags from the filter.
    for name in ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register", "openat2"):
        f.add_rule(sc.ERRNO(errno.ENOSYS), name)
    for family in (_AF_UNIX, _AF_PACKET, _AF_NETLINK):
        f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.EQ, family))
    for flag in _WRITE_FLAGS:
        f.add_rule(sc.ERRNO(errno.EACCES), "open", sc.Arg(1, sc.MASKED_EQ, flag, flag))
        f.add_rule(sc.ERRNO(errno.EACCES), "openat", sc.Arg(2, sc.MASKED_EQ, flag, flag))
    return f


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def _compile_seccomp() -> bytes:
    """The filter as raw BPF, so a child installs it with one prctl instead of recompiling it."""
    bpf_filter = _build_seccomp_filter()
    if bpf_filter is None:
        raise RuntimeError("pyseccomp or libseccomp is not installed")
    with tempfile.TemporaryFile() as f:
        bpf_filter.export_bpf(f)
        f.seek(0)
        return f.read()


try:
    _BPF, _BPF_ERROR = _compile_seccomp(), ""
except Exception as exc:  # no libseccomp, or the kernel's architecture is unknown to it
    _BPF, _BPF_ERROR = b"", str(exc)
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def _load_seccomp() -> list[str]:
    if not _BPF:
        return [f"seccomp unavailable: {_BPF_ERROR}"]
    program = ctypes.create_string_buffer(_BPF, len(_BPF))
    fprog = _SockFprog(len(_BPF) // 8, ctypes.addressof(program))  # 8 bytes per instruction
    if _LIBC.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return [f"seccomp filter not loaded: {os.strerror(ctypes.get_errno())}"]
    return []
