"""Closed-loop load generator: keeps `concurrency` v3-signed hook calls in flight.

Runs in its own process (see `run_in_subprocess`) so its CPU use is not the server's GIL's.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import multiprocessing
import time
import uuid
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Load:
    url: str
    client_secret: str
    concurrency: int
    duration: float
    warmup: float = 2.0


@dataclass(frozen=True)
class Sample:
    started: float  # seconds since the start of the run (warm-up included)
    latency_ms: float
    outcome: str  # "200 SUCCESS", "200 FAIL_CONTINUE", "503", "error ReadTimeout", ...
    callback_id: str


def signed_call(url: str, client_secret: str, callback_id: str) -> tuple[bytes, dict[str, str]]:
    """A HubSpot custom-code payload and its v3 signature headers."""
    body = json.dumps(
        {
            "callbackId": callback_id,
            "origin": {"portalId": 1, "actionDefinitionId": 2},
            "object": {"objectId": 123, "objectType": "CONTACT"},
            "inputFields": {"email": "a@b.c"},
        }
    ).encode()
    timestamp = str(int(time.time() * 1000))
    source = b"POST" + url.encode() + body + timestamp.encode()
    digest = hmac.new(client_secret.encode(), source, hashlib.sha256).digest()
    return body, {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


async def _caller(client: httpx.AsyncClient, load: Load, t0: float, out: list[Sample]) -> None:
    end = t0 + load.warmup + load.duration
    while time.perf_counter() < end:
        callback_id = f"bench-{uuid.uuid4().hex}"
        body, headers = signed_call(load.url, load.client_secret, callback_id)
        started = time.perf_counter()
        try:
            response = await client.post(load.url, content=body, headers=headers)
            outcome = str(response.status_code)
            if response.status_code == 200:
                state = response.json().get("outputFields", {}).get("hs_execution_state")
                outcome = f"200 {state}"
        except httpx.HTTPError as exc:
            outcome = f"error {type(exc).__name__}"
        finished = time.perf_counter()
        out.append(Sample(started - t0, (finished - started) * 1000, outcome, callback_id))


async def _run(load: Load) -> list[Sample]:
    limits = httpx.Limits(
        max_connections=load.concurrency, max_keepalive_connections=load.concurrency
    )
    samples: list[Sample] = []
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(_caller(client, load, t0, samples) for _ in range(load.concurrency)))
    return samples


def run(load: Load) -> list[Sample]:
    """Every call made, warm-up included (callers keep their `started` to tell them apart)."""
    return asyncio.run(_run(load))


def run_in_subprocess(load: Load) -> list[Sample]:
    """`run` in a fresh (spawned, not forked) process; returns its samples."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(run, (load,))
