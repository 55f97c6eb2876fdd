"""One delivery pass: write outputs back to the CRM record, then complete HubSpot callbacks.

A pass takes the executions it is given, plus other due ones of the same portals (so that
callbacks finishing together go out as one batch call), each under a lease. The write-back
goes first, so a workflow resumed by the callback reads the written properties; a write-back
that is waiting for a retry does not hold the callback back.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hubspot import HubSpot
from sqlalchemy.orm import Session, sessionmaker

from connectors.hubspot import (
    TokenBucket,
    complete_callback,
    complete_callbacks,
    make_client,
    object_type_path,
    update_object,
)
from runtime.db import work
from runtime.db.models import DeliveryStatus, Execution, utcnow
from runtime.delivery import policy
from runtime.delivery.policy import Failure, RetryPolicy
from runtime.secrets import Keyring, granted

log = logging.getLogger("codehook.delivery")

MAX_BATCH = 100
# Our own bucket's wait up to this is slept through; longer, the part is postponed.
_MAX_INLINE_WAIT = 1.0


@dataclass
class _Item:
    execution: Execution
    writeback: dict[str, Any] | None
    callback: dict[str, Any] | None

    @property
    def portal(self) -> str:
        return self.execution.portal_id or "default"


@dataclass
class Delivery:
    """Sends write-backs and callbacks through hubspot-api-client, recording every attempt."""

    sessions: sessionmaker[Session]
    base_url: str
    access_token: str | None
    keyring: Keyring | None
    bucket: TokenBucket
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lease_seconds: float = 30.0
    _clients: dict[str, HubSpot] = field(default_factory=dict)

    def run(self, execution_ids: Iterable[str]) -> int:
        """Deliver what is due for these executions (and batch-mates); returns how many were held."""
        items = self._claim(execution_ids)
        now = utcnow()
        for item in items:
            if policy.is_due(item.writeback, now):
                assert item.writeback is not None
                self._write_back(item, item.writeback)
        groups: dict[tuple[str, str | None], list[_Item]] = {}
        for item in items:
            if policy.is_due(item.callback, utcnow()):
                assert item.callback is not None
                groups.setdefault((item.portal, item.callback.get("tokenSecret")), []).append(item)
        for (portal, secret), group in groups.items():
            self._complete(portal, secret, group)
        for item in items:
            self._save(item)
        return len(items)

    # -- claiming ------------------------------------------------------------------------

    def _claim(self, execution_ids: Iterable[str]) -> list[_Item]:
        items: dict[str, _Item] = {}
        with self.sessions() as session:
            for execution_id in dict.fromkeys(execution_ids):
                self._take(session, execution_id, items)
            portals = {item.portal for item in items.values() if item.callback}
            if portals:
                for other in work.due_deliveries(session, now=utcnow(), limit=MAX_BATCH * 2):
                    if len(items) >= MAX_BATCH:
                        break
                    if (other.portal_id or "default") in portals and other.id not in items:
                        self._take(session, other.id, items)
        return list(items.values())

    def _take(self, session: Session, execution_id: str, items: dict[str, _Item]) -> None:
        execution = work.claim_delivery(
            session, execution_id=execution_id, lease_seconds=self.lease_seconds
        )
        if execution is not None:
            items[execution_id] = _Item(
                execution, copy.deepcopy(execution.writeback), copy.deepcopy(execution.callback)
            )

    # -- the HubSpot calls -----------------------------------------------------------------

    def _write_back(self, item: _Item, part: dict[str, Any]) -> None:
        client = self._client(part.get("tokenSecret"))
        if client is None:
            policy.fail(part, utcnow(), _NO_TOKEN)
            return
        if not self._wait_for_budget(item.portal, [part]):
            return
        try:
            update_object(
                client,
                object_type_path(str(part["objectType"])),
                part["objectId"],
                part["properties"],
            )
        except Exception as exc:
            failure = Failure.of(exc)
            log.warning("write-back for %s failed: %s", item.execution.id, failure.message)
            policy.record_failure(part, utcnow(), failure, self.policy)
        else:
            policy.record_success(part, utcnow(), status=200, done="written")

    def _complete(self, portal: str, secret: str | None, group: list[_Item]) -> None:
        parts = [item.callback for item in group if item.callback is not None]
        client = self._client(secret)
        if client is None:
            for part in parts:
                policy.fail(part, utcnow(), _NO_TOKEN)
            return
        for start in range(0, len(parts), MAX_BATCH):
            chunk = parts[start : start + MAX_BATCH]
            if not self._wait_for_budget(portal, chunk):
                continue
            try:
                if len(chunk) == 1:
                    one = chunk[0]
                    complete_callback(client, one["callbackId"], one["outputFields"])
                else:
                    complete_callbacks(
                        client, {part["callbackId"]: part["outputFields"] for part in chunk}
                    )
            except Exception as exc:
                failure = Failure.of(exc)
                log.warning("completing %d callback(s) failed: %s", len(chunk), failure.message)
                if len(chunk) > 1 and not failure.retryable:
                    # One bad callback id refuses the whole batch: find it one by one.
                    for part in chunk:
                        self._complete(portal, secret, [_Item(group[0].execution, None, part)])
                    continue
                for part in chunk:
                    policy.record_failure(part, utcnow(), failure, self.policy)
            else:
                for part in chunk:
                    policy.record_success(part, utcnow(), status=204, done="completed")
                    part["batch"] = len(chunk)

    def _wait_for_budget(self, portal: str, parts: list[dict[str, Any]]) -> bool:
        """Take one request from the portal's bucket, or postpone the parts; False if postponed."""
        wait = self.bucket.take(portal)
        while 0 < wait <= _MAX_INLINE_WAIT:
            time.sleep(wait)
            wait = self.bucket.take(portal)
        if wait > 0:
            for part in parts:
                policy.defer(part, utcnow(), wait)
            return False
        return True

    def _client(self, secret: str | None) -> HubSpot | None:
        token = self.access_token
        if secret is not None:
            with self.sessions() as session:
                token = granted(session, [secret], self.keyring).get(secret)
        if not token:
            return None
        client = self._clients.get(token)
        if client is None:
            client = self._clients[token] = make_client(access_token=token, base_url=self.base_url)
        return client

    # -- recording -------------------------------------------------------------------------

    def _save(self, item: _Item) -> None:
        parts = [part for part in (item.writeback, item.callback) if part]
        pending = [part for part in parts if part.get("state") == policy.PENDING]
        next_at = min(
            (part.get("nextAttemptAt") or utcnow().isoformat() for part in pending), default=None
        )
        if pending:
            status = DeliveryStatus.PENDING
        elif item.callback and item.callback.get("state") == policy.FAILED:
            status = DeliveryStatus.CALLBACK_FAILED
        elif item.writeback and item.writeback.get("state") == policy.FAILED:
            status = DeliveryStatus.WRITEBACK_FAILED
        else:
            status = DeliveryStatus.DELIVERED
        with self.sessions() as session:
            work.save_delivery(
                session,
                execution_id=item.execution.id,
                writeback=item.writeback,
                callback=item.callback,
                delivery=status,
                next_attempt_at=None if next_at is None else datetime.fromisoformat(next_at),
            )


_NO_TOKEN = "no HubSpot access token: set CODEHOOK_HUBSPOT_ACCESS_TOKEN or writeBack.tokenSecret"  # noqa: S105 (a message)
