"""The process layer: real forks of a real zygote, with the limits of DESIGN.md."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox import ExecutionStatus, Executor, ExecutorBusy, Limits

TRIVIAL = "def main(event):\n    return {'outputFields': {'ok': True}}\n"


def assert_still_serving(executor: Executor) -> None:
    result = executor.run(TRIVIAL, {})
    assert result.status is ExecutionStatus.SUCCESS, result
    assert result.output_fields == {"ok": True}


def test_hubspot_style_snippet_returns_outputs_and_logs(executor: Executor) -> None:
    """A snippet written for HubSpot runs unchanged: inputs in, outputs and prints out."""
    code = (
        "import os\n"
        "def main(event):\n"
        "    email = event['inputFields']['email']\n"
        "    print('checking', email)\n"
        "    return {'outputFields': {'domain': email.split('@')[1], 'has_key': os.getenv('K') is not None}}\n"
    )
    result = executor.run(
        code, {"inputFields": {"email": "ada@example.com"}}, secrets={"K": "value-1"}
    )
    assert result.status is ExecutionStatus.SUCCESS, result
    assert result.output_fields == {"domain": "example.com", "has_key": True}
    assert result.logs == "checking ada@example.com\n"
    assert result.duration_ms > 0


def test_main_returning_none_means_no_outputs(executor: Executor) -> None:
    """`return None` is a success without output fields."""
    result = executor.run("def main(event):\n    pass\n", {})
    assert result.status is ExecutionStatus.SUCCESS
    assert result.output_fields is None


def test_error_reports_the_users_line_and_traceback(executor: Executor) -> None:
    """An exception names its type, message and the line in the user's own source."""
    code = "def helper(x):\n    return 1 / x\n\ndef main(event):\n    return helper(0)\n"
    result = executor.run(code, {})
    assert result.status is ExecutionStatus.ERROR
    assert result.error is not None
    assert result.error.type == "ZeroDivisionError"
    assert result.error.line == 2
    assert result.error.traceback is not None and "return 1 / x" in result.error.traceback


def test_secret_values_are_redacted_from_logs_errors_and_outputs(executor: Executor) -> None:
    """A snippet that prints, returns and raises its secret shows only `[REDACTED:NAME]`."""
    code = (
        "import os, base64\n"
        "def main(event):\n"
        "    key = os.getenv('API_KEY')\n"
        "    print('key is', key, base64.b64encode(key.encode()).decode())\n"
        "    if event['inputFields'].get('fail'):\n"
        "        raise ValueError('bad key ' + key)\n"
        "    return {'outputFields': {'echo': key}}\n"
    )
    secret = "sk-live-0123456789"
    ok = executor.run(code, {"inputFields": {}}, secrets={"API_KEY": secret})
    assert ok.output_fields == {"echo": "[REDACTED:API_KEY]"}
    assert secret not in ok.logs and ok.logs.count("[REDACTED:API_KEY]") == 2
    failed = executor.run(code, {"inputFields": {"fail": True}}, secrets={"API_KEY": secret})
    assert failed.error is not None and secret not in failed.error.message
    assert "[REDACTED:API_KEY]" in failed.error.message


def test_only_granted_secrets_are_visible(executor: Executor) -> None:
    """`os.environ` holds the granted secrets and nothing of the host environment."""
    code = (
        "import os\ndef main(event):\n    return {'outputFields': {'keys': sorted(os.environ)}}\n"
    )
    result = executor.run(code, {}, secrets={"hstoken": "abcd-1234"})
    assert result.output_fields == {"keys": ["hstoken"]}


def test_zygote_environment_is_scrubbed(
    executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-warmed parent was started with a clean environment: no service secret reaches it."""
    assert executor._process is not None
    environ = Path(f"/proc/{executor._process.pid}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert names <= {"PATH", "LANG", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "MALLOC_ARENA_MAX"}


def test_child_runs_as_unprivileged_uid_in_empty_directory(executor: Executor) -> None:
    """Children drop root: a dedicated uid, and an empty, read-only working directory."""
    if os.geteuid() != 0:
        pytest.skip("uid switching is only done when the service runs as root")
    code = "import time\ndef main(event):\n    time.sleep(1.0)\n"
    pids_before = set(os.listdir("/proc"))
    worker = threading.Thread(target=executor.run, args=(code, {}))
    worker.start()
    time.sleep(0.5)
    found = []
    for pid in set(os.listdir("/proc")) - pids_before:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        found.append((uid, cwd))
    worker.join()
    assert any(uid >= 61000 and "codehook-sandbox-" in cwd for uid, cwd in found), found
    sandbox_dirs = [cwd for uid, cwd in found if uid >= 61000]
    assert all(not os.listdir(d) for d in sandbox_dirs if os.path.isdir(d))


def test_random_is_reseeded_so_variant_pick_is_uniform(executor: Executor) -> None:
    """4,000 picks of 1-4 give each value 1,000 ± 100: every fork gets fresh randomness."""
    code = "import random\ndef main(event):\n    return {'outputFields': {'v': random.randint(1, 4)}}\n"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: executor.run(code, {}), range(4000)))
    counts = Counter(r.output_fields["v"] for r in results if r.output_fields)
    assert sum(counts.values()) == 4000
    assert all(900 <= counts[v] <= 1100 for v in (1, 2, 3, 4)), counts


def test_busy_executor_refuses_after_bounded_wait() -> None:
    """With every slot taken, a run waits at most `wait_seconds` and then raises ExecutorBusy."""
    with Executor(max_concurrency=1) as small:
        sleeper = threading.Thread(
            target=small.run, args=("import time\ndef main(e):\n    time.sleep(1.5)\n", {})
        )
        sleeper.start()
        time.sleep(0.3)
        started = time.perf_counter()
        with pytest.raises(ExecutorBusy) as info:
            small.run(TRIVIAL, {}, wait_seconds=0.2)
        assert time.perf_counter() - started < 1.0
        assert info.value.retry_after > 0
        sleeper.join()
        assert_still_serving(small)


def test_zygote_killed_is_restarted_on_next_run() -> None:
    """If the pre-warmed parent dies, the next execution starts a new one and succeeds."""
    with Executor(max_concurrency=1) as ex:
        assert_still_serving(ex)
        assert ex._process is not None
        ex._process.kill()
        ex._process.wait()
        time.sleep(0.1)
        assert_still_serving(ex)


def test_check_reports_compile_errors_with_lines(executor: Executor) -> None:
    """Save-time check: every error comes back with its line, compiled in a child."""
    issues = executor.check("def main(event):\n    x = (\n")
    assert issues and issues[0].line == 2
    assert executor.check(TRIVIAL) == []


def test_check_survives_source_that_crashes_the_compiler(executor: Executor) -> None:
    """A 100,000-term expression is refused as an issue; the service keeps serving."""
    source = "def main(event):\n    return " + "+".join(["1"] * 100_000) + "\n"
    issues = executor.check(source)
    assert issues
    assert_still_serving(executor)


def test_limits_validate_their_values() -> None:
    """Limits refuse nonsense with a message quoting the bad value."""
    with pytest.raises(ValueError, match="timeout_seconds"):
        Limits(timeout_seconds=0)
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=1)
