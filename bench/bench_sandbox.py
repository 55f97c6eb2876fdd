"""Sandbox throughput and latency, side by side with a naive and an unisolated runner.

    .venv/bin/python bench/bench_sandbox.py [--runs 400] [--naive-runs 30]

Prints, for a trivial and a 50-line snippet: isolated executions per second (sequential and
with 2/4 concurrent callers) and p50/p99 latency of `Executor.run`; the same for (a) a naive
runner that starts `python` per execution with the same imports and (b) an in-process
`exec` without isolation (the ceiling); and the zygote's memory and per-execution cost with
and without `hubspot` pre-imported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import Executor
from sandbox.executor import DEFAULT_PRELOAD
from sandbox.zygote import LIBRARY_PRELOAD

TRIVIAL = "def main(event):\n    return {'outputFields': {'ok': True}}\n"
FIFTY_LINES = (Path(__file__).parent / "snippet_50_lines.py").read_text()
EVENT = {
    "inputFields": {"amount": "12500.50", "tier": "gold", "email": "ada@example.com"},
    "object": {"objectId": 42, "objectType": "DEAL"},
    "origin": {"portalId": 1, "actionDefinitionId": 2},
    "callbackId": "ap-1",
}
NAIVE_RUNNER = (
    "import sys, json, requests, httpx, hubspot\n"
    "src = sys.stdin.read()\n"
    "g = {'__name__': 'snippet'}\n"
    "exec(compile(src, '<snippet>', 'exec'), g)\n"
    "print(json.dumps(g['main'](json.loads(sys.argv[1]))))\n"
)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(call: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def throughput(call: Callable[[], object], runs: int, concurrency: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: call(), range(runs)))
    return runs / (time.perf_counter() - started)


def row(name: str, times: list[float], per_second: dict[int, float]) -> str:
    rates = "  ".join(f"c{c}={rate:7.0f}/s" for c, rate in per_second.items())
    return (
        f"  {name:<26} p50={statistics.median(times):8.2f} ms  "
        f"p99={percentile(times, 0.99):8.2f} ms  {rates}"
    )


def in_process(code: str) -> Callable[[], object]:
    compiled = compile(code, "<snippet>", "exec")

    def call() -> object:
        namespace: dict[str, object] = {"__name__": "snippet"}
        exec(compiled, namespace)  # noqa: S102 - the unisolated ceiling, on purpose
        return namespace["main"](dict(EVENT))  # type: ignore[operator]

    return call


def naive(code: str) -> Callable[[], object]:
    def call() -> object:
        done = subprocess.run(
            [sys.executable, "-c", NAIVE_RUNNER, json.dumps(EVENT)],
            input=code.encode(),
            capture_output=True,
            check=True,
        )
        return done.stdout

    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--naive-runs", type=int, default=30)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {args.runs} runs per figure; c<N> = N concurrent callers"
    )
    with Executor(max_concurrency=4) as executor:
        zygote_mb = executor.zygote_info["rss_kb"] / 1024
        for label, code in (("trivial", TRIVIAL), ("50-line", FIFTY_LINES)):
            check = executor.run(code, EVENT)
            assert check.ok, check
            print(f"\n{label} snippet")
            sandboxed = lambda code=code: executor.run(code, EVENT)  # noqa: E731
            for _ in range(20):
                sandboxed()
            iso_times = measure(sandboxed, args.runs)
            iso_rates = {c: throughput(sandboxed, args.runs, c) for c in (1, 2, 4)}
            print(row("codehook (isolated)", iso_times, iso_rates))
            naive_call = naive(code)
            naive_times = measure(naive_call, args.naive_runs)
            print(
                row("naive python per run", naive_times, {1: 1000 / statistics.mean(naive_times)})
            )
            ceiling = in_process(code)
            ceil_times = measure(ceiling, args.runs * 10)
            print(
                row(
                    "in-process exec (ceiling)", ceil_times, {1: 1000 / statistics.mean(ceil_times)}
                )
            )
            overhead = statistics.median(iso_times) - statistics.median(ceil_times)
            speedup = statistics.median(naive_times) / statistics.median(iso_times)
            print(
                f"  p50 overhead over ceiling: {overhead:.2f} ms; {speedup:.0f}x faster than naive"
            )
    print("\nzygote size vs per-execution cost (trivial snippet, sequential)")
    lean = tuple(m for m in DEFAULT_PRELOAD if m not in LIBRARY_PRELOAD)
    for label, preload in (
        ("default (hubspot crm)", DEFAULT_PRELOAD),
        ("without hubspot/requests", lean),
    ):
        with Executor(max_concurrency=2, preload=preload) as executor:
            call = lambda executor=executor: executor.run(TRIVIAL, EVENT)  # noqa: E731
            for _ in range(20):
                call()
            times = measure(call, args.runs)
            print(
                f"  {label:<26} zygote {executor.zygote_info['rss_kb'] / 1024:6.1f} MB, "
                f"{executor.zygote_info['modules']} modules: p50={statistics.median(times):.2f} ms "
                f"c2={throughput(call, args.runs, 2):.0f}/s"
            )
    print(f"\n(default zygote: {zygote_mb:.1f} MB resident)")


if __name__ == "__main__":
    main()
