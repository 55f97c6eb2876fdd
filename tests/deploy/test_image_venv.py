"""The image's exact entrypoint commands, in a fresh virtualenv built with the Dockerfile's pip steps.

Docker cannot run here, so the Dockerfile's build is replayed on the host: its builder COPY
lines make the build context, its `pip wheel` and `venv` + `pip install` commands run with
/wheels and /opt/codehook replaced by temporary folders, and deploy/docker/entrypoint.sh
starts the processes. Dependency wheels are kept in pytest's cache between runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"
# Debian's interpreter, like the image's base: readable by the non-root uid the image runs as.
PYTHON = "/usr/bin/python3.11" if Path("/usr/bin/python3.11").exists() else sys.executable
IMAGE_UID = 10001
REDIS_URL = "redis://127.0.0.1:6379/14"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Image:
    venv: Path
    top: Path

    def data_dir(self, owner: int | None = None) -> Path:
        """A fresh CODEHOOK_DATA_DIR, removed with the image's folder."""
        path = Path(tempfile.mkdtemp(prefix="data-", dir=self.top))
        if owner is not None:
            os.chown(path, owner, owner)
        return path

    def env(self, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
        """The image's ENV lines, pointed at temporary folders and a free port."""
        return {
            "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "CODEHOOK_DATA_DIR": str(data_dir),
            "CODEHOOK_HOST": "127.0.0.1",
            "CODEHOOK_PORT": str(port),
            "CODEHOOK_EXECUTOR_CONCURRENCY": "2",
            **extra,
        }


def _dockerfile_commands() -> tuple[list[str], list[str]]:
    """The builder stage's COPY sources, and the shell commands of its RUN lines that call pip."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    builder = re.split(r"^FROM .*$", text, flags=re.MULTILINE)[1]
    sources = [
        source
        for line in re.findall(r"^COPY (.+)$", builder, re.MULTILINE)
        for source in line.split()[:-1]
    ]
    commands = []
    for run in re.findall(r"^RUN (.+)$", text, re.MULTILINE):
        run = re.sub(r"--mount=\S+\s+", "", run)
        commands += [part.strip() for part in run.split("&&") if "pip " in part or "venv" in part]
    return sources, commands


@pytest.fixture(scope="module")
def image(request: pytest.FixtureRequest) -> Iterator[Image]:
    """A virtualenv built the way the Dockerfile builds /opt/codehook."""
    sources, commands = _dockerfile_commands()
    assert any("pip wheel" in c for c in commands) and any("pip install" in c for c in commands)
    # No cache with `-p no:cacheprovider`: then every run builds the wheelhouse online.
    pytest_cache = getattr(request.config, "cache", None)
    cache = pytest_cache.mkdir("deploy-wheelhouse") if pytest_cache is not None else None
    dependencies = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    marker = f"complete-{dependencies}"
    # World-readable (unlike pytest's tmp_path), so the image's non-root uid can run it.
    top = Path(tempfile.mkdtemp(prefix="codehook-image-"))
    top.chmod(0o755)
    context, wheels, venv = top / "src", top / "wheels", top / "opt-codehook"
    context.mkdir()
    for source in sources:
        target = context / source
        if (ROOT / source).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / source, target, ignore=ignore)
        else:
            shutil.copy2(ROOT / source, target)
    try:
        for command in commands:
            command = command.replace("/wheels", str(wheels)).replace("/opt/codehook", str(venv))
            argv = shlex.split(command)
            if argv[0] == "python":
                argv[0] = PYTHON
            if "wheel" in argv and cache is not None:
                argv += ["--find-links", str(cache)]  # earlier runs' dependency wheels
                if (cache / marker).exists():  # same dependencies as last time: stay offline
                    argv.append("--no-index")
            done = subprocess.run(
                argv, cwd=context, capture_output=True, text=True, timeout=600, check=False
            )
            assert done.returncode == 0, f"{shlex.join(argv)}\n{done.stdout}\n{done.stderr}"
        if cache is not None and not (cache / marker).exists():
            for wheel in wheels.glob("*.whl"):
                if not wheel.name.startswith("codehook-"):
                    shutil.copy2(wheel, cache / wheel.name)
            # The build backend, for the project's own wheel in an offline build.
            backend = [PYTHON, "-m", "pip", "download", "--dest", str(cache), "setuptools>=68"]
            subprocess.run(backend, capture_output=True, timeout=300, check=True)
            (cache / marker).touch()
        yield Image(venv, top)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def _started(
    argv: list[str], env: dict[str, str], log: Path, *, port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` until the block ends; wait first for /healthz on `port`."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"exited with {process.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no /healthz after 30 s:\n{log.read_text()}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _requires_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("switching uid and capabilities needs root")


def test_serve_answers_healthz_and_readyz(image: Image, tmp_path: Path) -> None:
    """`codehook-entrypoint serve` (the image's CMD) migrates, then answers /healthz and /readyz."""
    port = _free_port()
    env = image.env(image.data_dir(), port)
    log = tmp_path / "serve.log"
    with _started([str(ENTRYPOINT), "serve"], env, log, port=port):
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
    assert "schema created" in log.read_text()


def test_migrate_brings_an_empty_database_to_the_newest_schema(image: Image) -> None:
    """`codehook-entrypoint migrate` (the compose one-shot step) upgrades and exits 0."""
    env = image.env(image.data_dir(), _free_port())
    argv = [str(ENTRYPOINT), "migrate"]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert ": empty -> " in first.stdout
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    head = first.stdout.rsplit("-> ", 1)[1].strip()
    assert again.returncode == 0 and f"{head} -> {head}" in again.stdout


def test_other_arguments_go_to_the_codehook_command(image: Image) -> None:
    """`codehook-entrypoint token create ...` is `codehook token create ...` (first admin token)."""
    env = image.env(image.data_dir(), _free_port())
    argv = [str(ENTRYPOINT), "token", "create", "--role", "admin", "--name", "first"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(done.stdout.strip().splitlines()[-1]) >= 20


def test_worker_runs_a_burst_against_redis(image: Image) -> None:
    """`codehook-entrypoint worker --burst` registers on the real Redis, drains nothing, exits 0."""
    env = image.env(image.data_dir(), _free_port(), CODEHOOK_REDIS_URL=REDIS_URL)
    help_text = subprocess.run(
        [str(ENTRYPOINT), "--help"], env=env, capture_output=True, text=True, check=False
    ).stdout
    if " worker " not in help_text:
        pytest.skip("`codehook worker` does not exist yet (runtime/cli/worker.py)")
    argv = [str(ENTRYPOINT), "worker", "--burst"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_healthcheck_follows_the_containers_main_process(image: Image, tmp_path: Path) -> None:
    """In a PID namespace like a container's: 0 while `serve` answers, 1 on a dead port."""
    _requires_root()
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("unshare/nsenter (util-linux) are not installed")
    port = _free_port()
    env = image.env(image.data_dir(), port)
    unshare = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    argv = [*unshare, str(ENTRYPOINT), "serve"]
    with _started(argv, env, tmp_path / "serve.log", port=port) as process:
        # The entrypoint is PID 1 of the new namespace, as in a container.
        (inner,) = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()

        def healthcheck(**extra: str) -> int:
            enter = ["nsenter", "--target", inner, "--pid", "--mount"]
            check = [*enter, str(ENTRYPOINT), "healthcheck"]
            done = subprocess.run(check, env={**env, **extra}, timeout=30, check=False)
            return done.returncode

        assert healthcheck() == 0
        assert healthcheck(CODEHOOK_PORT=str(_free_port())) != 0
        # unshare does not pass SIGTERM on: stop the namespace's PID 1 directly.
        os.kill(int(inner), signal.SIGTERM)


def test_image_user_serves_and_logs_the_missing_uid_switch(image: Image, tmp_path: Path) -> None:
    """As the image's default uid 10001 the API works and says loudly that children keep its uid."""
    _requires_root()
    port = _free_port()
    env = image.env(image.data_dir(owner=IMAGE_UID), port)
    as_image_user = ["setpriv", f"--reuid={IMAGE_UID}", f"--regid={IMAGE_UID}", "--clear-groups"]
    log = tmp_path / "serve.log"
    with _started([*as_image_user, str(ENTRYPOINT), "serve"], env, log, port=port):
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    text = log.read_text()
    assert "sandbox layers unavailable" in text
    assert f"not root: children keep the service's uid {IMAGE_UID}" in text
    assert "seccomp" not in text  # the filter itself loads without privileges


@pytest.mark.parametrize(
    ("bounding_set", "warning"),
    [
        ("-all,+setuid,+setgid,+kill", None),
        ("-all,+setuid,+setgid", "no CAP_KILL"),
        ("-all,+kill", "needs CAP_SETUID, CAP_SETGID"),
    ],
)
def test_root_needs_setuid_setgid_and_kill_for_the_uid_switch(
    image: Image, tmp_path: Path, bounding_set: str, warning: str | None
) -> None:
    """Root with exactly compose's cap_add keeps the per-slot uids; with less, it says what is missing."""
    _requires_root()
    port = _free_port()
    env = image.env(image.data_dir(), port)
    capabilities = ["setpriv", f"--bounding-set={bounding_set}", "--inh-caps=-all"]
    log = tmp_path / "serve.log"
    with _started([*capabilities, str(ENTRYPOINT), "serve"], env, log, port=port):
        pass
    text = log.read_text()
    if warning is None:
        assert "sandbox layers unavailable" not in text, text
    else:
        assert "sandbox layers unavailable" in text and warning in text, text
