"""How long retention pruning takes on 1,000,000 old executions, and what hook writes wait meanwhile.

    .venv/bin/python bench/bench_prune.py [--rows 1000000] [--keep 10000] [--batch 5000]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--only sqlite|postgresql]

For each backend, on a fresh schema (a new SQLite file; a throwaway PostgreSQL schema):
bulk-inserts `--rows` executions older than the retention period plus `--keep` recent ones,
then runs `runtime.retention.prune` while a probe thread records an execution every 20 ms
(as hook traffic would), and prints the prune time, rows per second, and the probe's
p50/max wait for its write.
"""

from __future__ import annotations

import argparse
import io
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.engine import make_url

from runtime.db import create_engine_for_url, create_session_factory, upgrade
from runtime.db import executions as ex
from runtime.db import snippets as sn
from runtime.db.executions import new_execution_id
from runtime.db.models import Execution
from runtime.retention import cutoff, prune

CHUNK = 20_000


def _rows(snippet_id: int, count: int, start: datetime) -> Any:
    for n in range(count):
        at = start + timedelta(milliseconds=n)
        yield {
            "id": new_execution_id(at),
            "snippet_id": snippet_id,
            "snippet_name": "bench",
            "version": 1,
            "status": "success",
            "logs": "enriched contact 614\n",
            "attempts": 1,
            "attempt_log": [],
            "duration_ms": 12.5,
            "created_at": at,
        }


def _fill(engine: Engine, snippet_id: int, count: int, start: datetime) -> None:
    if engine.dialect.name == "postgresql":
        _copy(engine, snippet_id, count, start)
        return
    chunk: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for row in _rows(snippet_id, count, start):
            chunk.append(row)
            if len(chunk) == CHUNK:
                connection.execute(insert(Execution), chunk)
                chunk = []
        if chunk:
            connection.execute(insert(Execution), chunk)


def _copy(engine: Engine, snippet_id: int, count: int, start: datetime) -> None:
    columns = "id, snippet_id, snippet_name, version, status, logs, attempts, attempt_log, duration_ms, created_at"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY executions ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            buffer = io.StringIO()
            for n, row in enumerate(_rows(snippet_id, count, start)):
                buffer.write(
                    f"{row['id']}\t{snippet_id}\tbench\t1\tsuccess\tenriched contact 614\\n\t1\t[]\t12.5\t"
                    f"{row['created_at'].isoformat()}\n"
                )
                if n % CHUNK == CHUNK - 1:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()


def _probe(engine: Engine, stop: threading.Event, waits: list[float]) -> None:
    sessions = create_session_factory(engine)
    with sessions() as session:
        snippet = sn.get_snippet(session, name="bench")
        assert snippet is not None
        while not stop.is_set():
            started = time.perf_counter()
            ex.claim_execution(session, snippet=snippet, idempotency_key=secrets.token_hex(8))
            waits.append(time.perf_counter() - started)
            stop.wait(0.02)


def run(url: str, rows: int, keep: int, batch: int) -> None:
    engine = create_engine_for_url(url)
    upgrade(engine)
    sessions = create_session_factory(engine)
    with sessions() as session:
        snippet = sn.create_snippet(session, name="bench", code="x = 1\n", settings={})
    now = datetime.now(UTC)
    older_than = cutoff(30, now=now)
    assert older_than is not None
    started = time.perf_counter()
    _fill(engine, snippet.id, rows, older_than - timedelta(days=60))
    _fill(engine, snippet.id, keep, now - timedelta(days=1))
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE executions"))
    fill_seconds = time.perf_counter() - started

    stop, waits = threading.Event(), []
    probe = threading.Thread(target=_probe, args=(engine, stop, waits))
    probe.start()
    started = time.perf_counter()
    deleted = prune(sessions, older_than=older_than, batch_rows=batch)
    seconds = time.perf_counter() - started
    stop.set()
    probe.join()
    with sessions() as session:
        left = session.scalar(select(func.count()).select_from(Execution))
    engine.dispose()
    waits_ms = sorted(w * 1000 for w in waits)
    print(
        f"{engine.dialect.name:<10} inserted {rows + keep:,} in {fill_seconds:.1f} s; "
        f"pruned {deleted:,} in {seconds:.1f} s ({deleted / seconds:,.0f} rows/s, batches of "
        f"{batch:,}); {left:,} left; probe writes during prune: {len(waits_ms)}, "
        f"p50 {statistics.median(waits_ms):.1f} ms, max {waits_ms[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", args.rows, args.keep, args.batch)
    if args.only != "sqlite":
        schema = f"bench_{secrets.token_hex(4)}"
        admin = create_engine_for_url(args.postgres)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = make_url(args.postgres).update_query_dict({"options": f"-csearch_path={schema}"})
            run(url.render_as_string(hide_password=False), args.rows, args.keep, args.batch)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
