"""The admin commands as a user runs them: secrets, rotate-key (killed half-way), audit, prune, logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from runtime import secrets
from runtime.config import Settings
from runtime.db import ExecutionStatus, create_engine_for_url, create_session_factory, upgrade
from runtime.db import executions as ex
from runtime.db import snippets as sn
from runtime.db.models import Secret
from runtime.secrets.keys import KEY_FILE, PENDING_KEY_FILE

VALUE = "cli-secret-value-7e1f"


def _env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEHOOK_")}
    return {
        **env,
        "CODEHOOK_DATA_DIR": str(data_dir),
        "CODEHOOK_DATABASE_URL": database_url,
        **extra,
    }


def _codehook(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _values(env: dict[str, str], names: list[str]) -> dict[str, str]:
    settings = Settings.from_env(env)
    engine = create_engine_for_url(settings.database_url)
    sessions = create_session_factory(engine)
    keyring = secrets.keyring_for(settings, sessions)
    with sessions() as session:
        values = secrets.granted(session, names, keyring)
    engine.dispose()
    return values


def test_set_list_delete_take_value_from_stdin_only(database_url: str, tmp_path: Path) -> None:
    """`secrets set` reads stdin (one trailing newline dropped); no output ever shows the value."""
    env = _env(tmp_path, database_url)

    created = _codehook(env, "secrets", "set", "hstoken", stdin=VALUE + "\n")
    rotated = _codehook(env, "secrets", "set", "hstoken", stdin="second-value")
    listed = _codehook(env, "secrets", "list")
    audit = _codehook(env, "audit", "--action", "secret")
    deleted = _codehook(env, "secrets", "delete", "hstoken")
    missing = _codehook(env, "secrets", "delete", "hstoken")
    odd = _codehook(env, "secrets", "set", "1bad", stdin=VALUE)
    huge = _codehook(env, "secrets", "set", "huge", stdin="x" * 9000)

    assert created.returncode == 0 and "Created secret hstoken." in created.stdout
    assert rotated.returncode == 0 and "Rotated secret hstoken." in rotated.stdout
    assert "hstoken" in listed.stdout
    assert "secret.rotated" in audit.stdout and "secret.created" in audit.stdout
    assert deleted.returncode == 0 and missing.returncode == 1
    assert "no secret named 'hstoken'" in missing.stderr
    assert odd.returncode == 1 and "secret names are" in odd.stderr
    assert huge.returncode == 1 and "at most 8192 bytes" in huge.stderr
    everything = "".join(
        p.stdout + p.stderr for p in (created, rotated, listed, audit, deleted, missing, odd)
    )
    assert VALUE not in everything and "second-value" not in everything


def test_set_stores_exactly_the_piped_value(database_url: str, tmp_path: Path) -> None:
    """What was piped in is what a granted snippet gets."""
    env = _env(tmp_path, database_url)
    _codehook(env, "secrets", "set", "piped", stdin="  spaced value\n")
    assert _values(env, ["piped"]) == {"piped": "  spaced value"}


def test_rotate_key_killed_half_way_then_rerun_keeps_every_secret(
    database_url: str, tmp_path: Path
) -> None:
    """SIGKILL during rotate-key leaves every secret readable; a second run finishes the rotation."""
    env = _env(tmp_path, database_url)
    names = [f"SECRET_{n}" for n in range(6)]
    for name in names:
        assert _codehook(env, "secrets", "set", name, stdin=f"value-of-{name}").returncode == 0
    old_key = (tmp_path / KEY_FILE).read_text()
    engine = create_engine_for_url(database_url)

    def key_ids() -> list[str]:
        with create_session_factory(engine)() as session:
            return list(session.scalars(select(Secret.key_id)))

    old_id = key_ids()[0]
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "secrets", "rotate-key", "--pause-seconds", "0.4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while sum(key_id != old_id for key_id in key_ids()) < 2:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()

    half = key_ids()
    assert old_id in half and len(set(half)) == 2  # killed half-way: two keys in use
    assert (tmp_path / PENDING_KEY_FILE).exists()
    assert _values(env, names) == {name: f"value-of-{name}" for name in names}

    finished = _codehook(env, "secrets", "rotate-key")

    assert finished.returncode == 0, finished.stderr
    assert len(set(key_ids())) == 1 and old_id not in key_ids()
    assert not (tmp_path / PENDING_KEY_FILE).exists()
    assert (tmp_path / KEY_FILE).read_text() != old_key
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert _values(env, names) == {name: f"value-of-{name}" for name in names}
    engine.dispose()


def test_rotate_key_from_environment_takes_new_key_on_stdin(
    database_url: str, tmp_path: Path
) -> None:
    """With CODEHOOK_MASTER_KEY, rotate-key re-encrypts under the key piped in, then says so."""
    old, new = secrets.MasterKey.generate(), secrets.MasterKey.generate()
    env = _env(tmp_path, database_url, CODEHOOK_MASTER_KEY=old.encoded())
    _codehook(env, "secrets", "set", "ENV_KEYED", stdin="env-keyed-value")

    rotated = _codehook(env, "secrets", "rotate-key", stdin=new.encoded())
    stale = _codehook(env, "secrets", "set", "OTHER", stdin="x-value")

    assert rotated.returncode == 0 and "set CODEHOOK_MASTER_KEY" in rotated.stdout
    assert new.encoded() not in rotated.stdout + rotated.stderr
    assert stale.returncode == 1 and "cannot decrypt the stored secrets" in stale.stderr
    env["CODEHOOK_MASTER_KEY"] = new.encoded()
    assert _values(env, ["ENV_KEYED"]) == {"ENV_KEYED": "env-keyed-value"}
    assert not (tmp_path / KEY_FILE).exists()


def test_wrong_length_key_fails_the_command_clearly(database_url: str, tmp_path: Path) -> None:
    """A 16-byte CODEHOOK_MASTER_KEY is refused with the expected length, not echoed."""
    env = _env(tmp_path, database_url, CODEHOOK_MASTER_KEY="c2hvcnQta2V5LTE2Ynl0ZQ==")
    result = _codehook(env, "secrets", "set", "ANY", stdin="value-here")
    assert result.returncode == 1
    assert "must decode to 32 bytes (AES-256), it decodes to 16" in result.stderr
    assert "c2hvcnQta2V5LTE2Ynl0ZQ" not in result.stderr


def test_prune_and_logs_commands(database_url: str, tmp_path: Path) -> None:
    """`prune` deletes executions past retention; `logs` prints the rest without colour codes."""
    env = _env(tmp_path, database_url, CODEHOOK_EXECUTION_RETENTION_DAYS="7")
    engine = create_engine_for_url(database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with create_session_factory(engine)() as session:
        snippet = sn.create_snippet(session, name="logged", code="x = 1\n", settings={})
        for age, status in ((10, ExecutionStatus.SUCCESS), (1, ExecutionStatus.ERROR)):
            execution, _ = ex.claim_execution(
                session, snippet=snippet, now=now - timedelta(days=age)
            )
            ex.finish_execution(
                session,
                execution=execution,
                status=status,
                error={"type": "ValueError", "message": "boom"} if status == "error" else None,
                logs="hello from the snippet\n",
                duration_ms=12.0,
                now=now - timedelta(days=age),
            )
    engine.dispose()

    pruned = _codehook(env, "prune")
    logs = _codehook(env, "logs", "--snippet", "logged", "--logs")
    errors_only = _codehook(env, "logs", "--status", "success")

    assert pruned.returncode == 0 and "Pruned 1 execution(s)" in pruned.stdout
    assert "logged v1  error" in logs.stdout and "boom" in logs.stdout
    assert "    hello from the snippet" in logs.stdout and "\x1b[" not in logs.stdout
    assert errors_only.stdout.strip() == ""
