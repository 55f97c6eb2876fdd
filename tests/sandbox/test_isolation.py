"""Hostile snippets against the process layer: each is contained and the next run succeeds.

Language-level escapes (frames, format strings, module graphs) are in test_hostile.py.
"""

from __future__ import annotations

import time

import pytest

from sandbox import ExecutionStatus, Executor, Limits

TRIVIAL = "def main(event):\n    return {'outputFields': {'ok': True}}\n"
ONE_SECOND = Limits(timeout_seconds=1)

# (id, source, limits, expected statuses, fragment expected in the error message)
ATTACKS = [
    (
        "python-infinite-loop",
        "def main(event):\n    while True:\n        pass\n",
        ONE_SECOND,
        {ExecutionStatus.TIMEOUT},
        "time limit",
    ),
    (
        "catches-the-timeout",
        "def main(event):\n"
        "    while True:\n"
        "        try:\n"
        "            while True:\n"
        "                pass\n"
        "        except BaseException:\n"
        "            pass\n",
        ONE_SECOND,
        {ExecutionStatus.TIMEOUT},
        "time limit",
    ),
    (
        "c-loop-ignores-signals",
        "def main(event):\n    return sum(range(10**12))\n",
        ONE_SECOND,
        {ExecutionStatus.TIMEOUT},
        "time limit",
    ),
    (
        "sleeps-past-the-limit",
        "import time\ndef main(event):\n    time.sleep(30)\n",
        ONE_SECOND,
        {ExecutionStatus.TIMEOUT},
        "time limit",
    ),
    (
        "regex-catastrophic-backtracking",
        "import re\ndef main(event):\n    return re.match(r'(a+)+$', 'a' * 64 + 'b')\n",
        ONE_SECOND,
        {ExecutionStatus.TIMEOUT},
        "time limit",
    ),
    (
        "memory-bomb-string",
        "def main(event):\n    x = 'a' * (4 * 1024**3)\n    return None\n",
        Limits(memory_mb=64),
        {ExecutionStatus.MEMORY_EXCEEDED},
        "memory limit",
    ),
    (
        "memory-bomb-list-growth",
        "def main(event):\n    hoard = []\n    while True:\n        hoard.append(' ' * 1_000_000)\n",
        Limits(memory_mb=64, timeout_seconds=10),
        {ExecutionStatus.MEMORY_EXCEEDED},
        "memory limit",
    ),
    (
        "huge-integer",
        "def main(event):\n    return {'outputFields': {'n': 10 ** (10 ** 10)}}\n",
        Limits(memory_mb=64, timeout_seconds=2),
        {ExecutionStatus.MEMORY_EXCEEDED, ExecutionStatus.TIMEOUT},
        "limit",
    ),
    (
        "deep-python-recursion",
        "def f(n):\n    return f(n + 1)\ndef main(event):\n    return f(0)\n",
        ONE_SECOND,
        {ExecutionStatus.ERROR},
        "recursion",
    ),
    (
        "c-stack-overflow-nested-tuple-hash",
        "def main(event):\n"
        "    t = ()\n"
        "    for _ in range(2_000_000):\n"
        "        t = (t,)\n"
        "    return {'outputFields': {'h': hash(t)}}\n",
        Limits(timeout_seconds=10, memory_mb=512),
        {ExecutionStatus.CRASHED, ExecutionStatus.ERROR},
        "",
    ),
    (
        "output-too-large",
        "def main(event):\n    return {'outputFields': {'blob': 'x' * 1_000_000}}\n",
        None,
        {ExecutionStatus.OUTPUT_INVALID},
        "",
    ),
    (
        "thread-bomb",
        "import threading, time\n"
        "def main(event):\n"
        "    started = 0\n"
        "    for _ in range(10_000):\n"
        "        threading.Thread(target=time.sleep, args=(30,)).start()\n"
        "        started += 1\n",
        Limits(timeout_seconds=5),
        {ExecutionStatus.ERROR, ExecutionStatus.MEMORY_EXCEEDED},
        "thread",
    ),
    (
        "gc-scan-for-other-secrets",
        "import gc\ndef main(event):\n    return [o for o in gc.get_objects() if isinstance(o, str)]\n",
        None,
        {ExecutionStatus.ERROR},
        "module 'gc' is not available",
    ),
    (
        "subprocess",
        "import subprocess\ndef main(event):\n    return subprocess.check_output(['id'])\n",
        None,
        {ExecutionStatus.ERROR},
        "module 'subprocess' is not available",
    ),
    (
        "raw-socket",
        "import socket\ndef main(event):\n    return socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n",
        None,
        {ExecutionStatus.ERROR},
        "module 'socket' is not available",
    ),
    (
        "read-a-host-file",
        "def main(event):\n    return open('/etc/passwd').read()\n",
        None,
        {ExecutionStatus.ERROR},
        "name 'open' is not defined",
    ),
    (
        "host-environment",
        "import os\ndef main(event):\n    return os.environ['PATH']\n",
        None,
        {ExecutionStatus.ERROR},
        "keyerror",
    ),
    (
        "process-pool",
        "from concurrent.futures import ProcessPoolExecutor\n"
        "def main(event):\n"
        "    with ProcessPoolExecutor() as pool:\n"
        "        return pool.submit(len, 'x').result()\n",
        None,
        {ExecutionStatus.ERROR},
        "cannot start processes",
    ),
]


@pytest.mark.parametrize(
    ("source", "limits", "statuses", "fragment"),
    [pytest.param(*attack[1:], id=attack[0]) for attack in ATTACKS],
)
def test_attack_is_contained_and_service_keeps_serving(
    executor: Executor,
    source: str,
    limits: Limits | None,
    statuses: set[ExecutionStatus],
    fragment: str,
) -> None:
    """The attack ends in the expected status within its limit; the next execution succeeds."""
    started = time.perf_counter()
    result = executor.run(source, {}, limits=limits)
    elapsed = time.perf_counter() - started
    assert result.status in statuses, result
    assert result.error is not None
    assert fragment.lower() in (result.error.message + result.error.type).lower(), result.error
    budget = (limits or Limits()).timeout_seconds
    assert elapsed < budget + 5, f"took {elapsed:.1f} s for a {budget} s limit"
    follow_up = executor.run(TRIVIAL, {})
    assert follow_up.status is ExecutionStatus.SUCCESS, follow_up


def test_output_flood_is_truncated_with_a_marker(executor: Executor) -> None:
    """A million prints keep 64 KB of logs and say they were truncated; the run itself succeeds."""
    code = "def main(event):\n    for i in range(1_000_000):\n        print('flood', i)\n"
    result = executor.run(code, {}, limits=Limits(timeout_seconds=10))
    assert result.status is ExecutionStatus.SUCCESS, result.error
    assert result.logs.endswith("[log truncated]\n")
    assert len(result.logs.encode()) <= Limits().log_bytes + 64


def test_logs_written_before_a_timeout_are_kept(executor: Executor) -> None:
    """Prints made before the time limit stopped the run are in the result."""
    code = "import time\ndef main(event):\n    print('step 1')\n    time.sleep(10)\n"
    result = executor.run(code, {}, limits=ONE_SECOND)
    assert result.status is ExecutionStatus.TIMEOUT
    assert result.logs == "step 1\n"
    assert result.error is not None and result.error.line == 4


def test_thread_pool_runs_work_in_parallel(executor: Executor) -> None:
    """`ThreadPoolExecutor` works for the parallel-requests idiom."""
    code = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "def main(event):\n"
        "    with ThreadPoolExecutor(4) as pool:\n"
        "        squares = list(pool.map(lambda n: n * n, range(8)))\n"
        "    return {'outputFields': {'sum': sum(squares)}}\n"
    )
    result = executor.run(code, {})
    assert result.output_fields == {"sum": 140}, result


def test_threads_do_not_outlive_the_execution(executor: Executor) -> None:
    """A background thread still running when main returns dies with the child."""
    code = (
        "import threading, time\n"
        "def forever():\n"
        "    while True:\n"
        "        time.sleep(0.01)\n"
        "def main(event):\n"
        "    threading.Thread(target=forever).start()\n"
        "    return {'outputFields': {'ok': True}}\n"
    )
    started = time.perf_counter()
    result = executor.run(code, {}, limits=Limits(timeout_seconds=5))
    assert result.status is ExecutionStatus.SUCCESS
    assert time.perf_counter() - started < 2


def test_state_does_not_leak_between_executions(executor: Executor) -> None:
    """Module globals and mutable library state set by one run are gone in the next."""
    code = (
        "import requests\n"
        "seen = []\n"
        "def main(event):\n"
        "    before = requests.codes.get('codehook_marker')\n"
        "    requests.codes['codehook_marker'] = 1\n"
        "    seen.append(1)\n"
        "    return {'outputFields': {'before': before, 'seen': len(seen)}}\n"
    )
    first = executor.run(code, {})
    second = executor.run(code, {})
    assert first.output_fields == {"before": None, "seen": 1}, first
    assert second.output_fields == {"before": None, "seen": 1}, second


def test_secrets_of_one_execution_never_reach_the_next(executor: Executor) -> None:
    """A secret granted to one execution is absent from the following one."""
    reader = (
        "import os\ndef main(event):\n    return {'outputFields': {'v': os.getenv('ONLY_A')}}\n"
    )
    granted = executor.run(reader, {}, secrets={"ONLY_A": "value-for-a"})
    assert granted.output_fields == {"v": "[REDACTED:ONLY_A]"}
    other = executor.run(reader, {})
    assert other.output_fields == {"v": None}
