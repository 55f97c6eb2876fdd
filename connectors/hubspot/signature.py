"""Checking that a webhook request was signed by HubSpot (request signatures v3, v2 and v1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import time
from collections.abc import Mapping

from connectors.hubspot.exceptions import SignatureError

__all__ = ["decode_v3_uri", "has_signature", "verify_request"]

_V3_HEADER = "x-hubspot-signature-v3"
_TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
_LEGACY_HEADER = "x-hubspot-signature"
_VERSION_HEADER = "x-hubspot-signature-version"

# HubSpot decodes exactly these escapes in the URI before signing (v3); anything else, such as
# %20, stays encoded. Percent-escapes are case-insensitive, so %2f is decoded like %2F.
_V3_DECODED_ESCAPES = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def has_signature(headers: Mapping[str, str]) -> bool:
    """Whether the request carries any HubSpot signature header."""
    names = {name.lower() for name in headers}
    return _V3_HEADER in names or _LEGACY_HEADER in names


def decode_v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it for v3: only the characters HubSpot lists are decoded."""
    return _V3_DECODED_ESCAPES.sub(lambda match: chr(int(match.group(1), 16)), uri)


def verify_request(
    *,
    client_secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now: float | None = None,
    max_age_seconds: int = 300,
) -> None:
    """Raise `SignatureError` unless the request carries a valid HubSpot signature.

    `uri` is the full URL HubSpot called (scheme, host, path and query), as configured in the
    workflow; behind a proxy it must be rebuilt from the public URL, not the local one.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if _V3_HEADER in lowered:
        _verify_v3(client_secret, method, uri, body, lowered, now, max_age_seconds)
        return
    if _LEGACY_HEADER not in lowered:
        raise SignatureError("missing X-HubSpot-Signature-v3 or X-HubSpot-Signature header")
    version = lowered.get(_VERSION_HEADER, "v1").strip().lower() or "v1"
    if version == "v1":
        source = client_secret.encode() + body
    elif version == "v2":
        source = (client_secret + method + uri).encode() + body
    else:
        raise SignatureError(
            f"unsupported X-HubSpot-Signature-Version {_quote(lowered[_VERSION_HEADER])} "
            "(expected v1 or v2, or X-HubSpot-Signature-v3)"
        )
    expected = hashlib.sha256(source).hexdigest()
    given = lowered[_LEGACY_HEADER].strip().lower()
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise SignatureError(f"signature does not match (X-HubSpot-Signature {version})")


def _verify_v3(
    client_secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now: float | None,
    max_age_seconds: int,
) -> None:
    raw_timestamp = headers.get(_TIMESTAMP_HEADER)
    if raw_timestamp is None:
        raise SignatureError(
            "missing X-HubSpot-Request-Timestamp header (required with X-HubSpot-Signature-v3)"
        )
    timestamp = raw_timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit():
        raise SignatureError(
            "X-HubSpot-Request-Timestamp must be milliseconds since the epoch, "
            f"got {_quote(raw_timestamp)}"
        )
    age = (time.time() if now is None else now) - int(timestamp) / 1000
    if age > max_age_seconds:
        raise SignatureError(f"timestamp is {math.ceil(age)} s old (limit {max_age_seconds} s)")
    # Clock skew works both ways; a signature dated further ahead than the window is refused too.
    if -age > max_age_seconds:
        raise SignatureError(
            f"timestamp is {math.ceil(-age)} s in the future (limit {max_age_seconds} s)"
        )
    source = (method + decode_v3_uri(uri)).encode() + body + timestamp.encode()
    digest = hmac.new(client_secret.encode(), source, hashlib.sha256).digest()
    expected = base64.b64encode(digest)
    given = headers[_V3_HEADER].strip().encode("utf-8", "replace")
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature does not match (X-HubSpot-Signature-v3)")


def _quote(value: str, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
