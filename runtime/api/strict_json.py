"""Parsing request bodies as strict JSON: no NaN/Infinity, no lone surrogates.

Python's `json` accepts both, but neither survives the trip onward: PostgreSQL's `json`
type refuses `NaN`, and a lone surrogate cannot be encoded as UTF-8 for the database or
the response. Refusing them at the edge turns a late 500 into a 400 that says why.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.api.errors import ApiError

__all__ = ["loads_strict"]


def loads_strict(body: bytes, *, what: str = "the request body") -> Any:
    """The decoded body; ApiError 400 `bad_json` saying what is wrong with it."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "bad_json", f"{what} is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"{what} is not valid JSON: {exc}") from None
    if not _encodable(value):
        raise ApiError(
            400,
            "bad_json",
            f"{what} contains a lone surrogate escape (like \\ud800), which is not text",
        )
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _encodable(value: Any) -> bool:
    """True when every string (keys included) can be encoded as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True
