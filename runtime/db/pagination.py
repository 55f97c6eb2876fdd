"""Keyset pagination: a page of items and an opaque cursor for the next one."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from runtime.db.exceptions import InvalidCursor

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page; `next_cursor` is None on the last page (the API's `nextCursor`)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(*values: str | int) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, types: Sequence[type]) -> list[Any]:
    """The values `encode_cursor` packed, checked against `types`; InvalidCursor otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor(cursor) from exc
    if not isinstance(values, list) or len(values) != len(types):
        raise InvalidCursor(cursor)
    if not all(type(value) is expected for value, expected in zip(values, types, strict=True)):
        raise InvalidCursor(cursor)
    return values


def clamp_limit(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


def page_of(rows: Sequence[T], limit: int, key: Any) -> Page[T]:
    """Build a page from up to `limit + 1` rows; `key(row)` gives the cursor values of a row."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(*key(items[-1])) if more else None)
