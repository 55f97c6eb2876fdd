"""HubSpot request signatures, checked against the signatures hubspot-api-client itself produces."""

from __future__ import annotations

import json

import pytest
from hubspot.utils.signature import Signature

import connectors.hubspot
from connectors.hubspot import SignatureError, has_signature, verify_request
from connectors.hubspot.signature import decode_v3_uri

SECRET = "5f1d6b0c-4a7e-4a2b-9d61-3a1c0f9e2b77"
URI = "https://codehook.example.com/v1/hooks/assign-lead"
NOW = 1_700_000_000.0
BODY = json.dumps(
    {
        "callbackId": "ap-102670506-56776413549-7-0",
        "object": {"objectId": 614, "objectType": "CONTACT"},
        "inputFields": {"email": "ada@example.com", "city": "Zürich"},
    }
)


def _ms(seconds: float) -> str:
    return str(int(seconds * 1000))


def _v3_headers(
    *, body: str = BODY, uri: str = URI, timestamp: str = _ms(NOW), secret: str = SECRET
) -> dict[str, str]:
    signature = Signature.get_signature(
        secret, body, "v3", http_uri=uri, http_method="POST", timestamp=timestamp
    )
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}


def _verify(
    headers: dict[str, str], *, body: str = BODY, uri: str = URI, max_age_seconds: int = 300
) -> None:
    verify_request(
        client_secret=SECRET,
        method="POST",
        uri=uri,
        body=body.encode(),
        headers=headers,
        now=NOW,
        max_age_seconds=max_age_seconds,
    )


def test_v3_signature_from_hubspot_client_is_accepted() -> None:
    """A v3 signature made by hubspot-api-client's own helper verifies."""
    _verify(_v3_headers())


def test_v2_signature_from_hubspot_client_is_accepted() -> None:
    """A v2 signature (sha256 of secret, method, URI and body) verifies."""
    signature = Signature.get_signature(SECRET, BODY, "v2", http_uri=URI, http_method="POST")
    _verify({"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v2"})


def test_v1_signature_from_hubspot_client_is_accepted() -> None:
    """A v1 signature (sha256 of secret and body) verifies with its version header."""
    signature = Signature.get_signature(SECRET, BODY, "v1")
    _verify({"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v1"})


def test_v1_is_assumed_when_the_version_header_is_absent() -> None:
    """A bare X-HubSpot-Signature is checked as v1, as HubSpot's oldest webhooks send it."""
    _verify({"X-HubSpot-Signature": Signature.get_signature(SECRET, BODY, "v1")})


def test_tampered_body_is_refused_for_every_version() -> None:
    """Changing one byte of the body breaks v1, v2 and v3 signatures alike."""
    tampered = BODY.replace("614", "615")
    v2 = Signature.get_signature(SECRET, BODY, "v2", http_uri=URI, http_method="POST")
    for headers in (
        _v3_headers(),
        {"X-HubSpot-Signature": v2, "X-HubSpot-Signature-Version": "v2"},
        {"X-HubSpot-Signature": Signature.get_signature(SECRET, BODY, "v1")},
    ):
        with pytest.raises(SignatureError, match="signature does not match"):
            _verify(headers, body=tampered)


def test_signature_made_with_another_secret_is_refused() -> None:
    """A signature made with a different client secret does not match."""
    with pytest.raises(
        SignatureError, match=r"signature does not match \(X-HubSpot-Signature-v3\)"
    ):
        _verify(_v3_headers(secret="another-app-secret"))


def test_v2_signature_is_bound_to_the_uri() -> None:
    """A v2 signature made for another hook URL is refused."""
    other = "https://codehook.example.com/v1/hooks/other-snippet"
    signature = Signature.get_signature(SECRET, BODY, "v2", http_uri=other, http_method="POST")
    with pytest.raises(SignatureError, match="signature does not match"):
        _verify({"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v2"})


def test_stale_v3_timestamp_is_refused_with_its_age() -> None:
    """A v3 request signed 412 s ago is refused, and the message gives its age and the limit."""
    headers = _v3_headers(timestamp=_ms(NOW - 412))
    with pytest.raises(SignatureError, match=r"^timestamp is 412 s old \(limit 300 s\)$"):
        _verify(headers)


def test_future_v3_timestamp_beyond_the_window_is_refused() -> None:
    """A v3 timestamp more than the window ahead of the clock is refused."""
    headers = _v3_headers(timestamp=_ms(NOW + 600))
    with pytest.raises(SignatureError, match=r"^timestamp is 600 s in the future \(limit 300 s\)$"):
        _verify(headers)


def test_v3_timestamp_inside_the_window_is_accepted() -> None:
    """Small clock skew either way and a 299 s old signature are within the window."""
    for offset in (-299, -1, 0, 30):
        _verify(_v3_headers(timestamp=_ms(NOW + offset)))


def test_max_age_is_configurable() -> None:
    """A caller can tighten the window."""
    headers = _v3_headers(timestamp=_ms(NOW - 61))
    with pytest.raises(SignatureError, match=r"limit 60 s"):
        _verify(headers, max_age_seconds=60)


def test_missing_signature_headers_are_named() -> None:
    """With no signature header at all, the error names the headers HubSpot would send."""
    with pytest.raises(
        SignatureError, match="missing X-HubSpot-Signature-v3 or X-HubSpot-Signature header"
    ):
        _verify({"Content-Type": "application/json"})


def test_v3_without_timestamp_header_is_refused() -> None:
    """A v3 signature without X-HubSpot-Request-Timestamp is refused before any hashing."""
    headers = _v3_headers()
    del headers["X-HubSpot-Request-Timestamp"]
    with pytest.raises(SignatureError, match="missing X-HubSpot-Request-Timestamp header"):
        _verify(headers)


def test_non_numeric_timestamp_is_quoted_in_the_error() -> None:
    """A timestamp that is not milliseconds is refused and quoted."""
    headers = _v3_headers(timestamp="2023-11-14T22:13:20Z")
    with pytest.raises(SignatureError, match=r"got '2023-11-14T22:13:20Z'"):
        _verify(headers)


def test_unknown_signature_version_is_refused() -> None:
    """An X-HubSpot-Signature-Version other than v1/v2 is refused by name."""
    headers = {"X-HubSpot-Signature": "abc", "X-HubSpot-Signature-Version": "v9"}
    with pytest.raises(SignatureError, match=r"unsupported X-HubSpot-Signature-Version 'v9'"):
        _verify(headers)


def test_encoded_uri_characters_are_decoded_before_v3_check() -> None:
    """HubSpot signs the URI with `%40`, `%2C`... decoded; the encoded request still verifies."""
    decoded = URI + "?email=ada@example.com&tags=a,b&note=(vip)!"
    encoded = URI + "?email=ada%40example.com&tags=a%2Cb&note=%28vip%29%21"
    _verify(_v3_headers(uri=decoded), uri=encoded)


def test_lowercase_escapes_are_decoded_too() -> None:
    """Percent-escapes are case-insensitive: `%2c` is decoded like `%2C`."""
    _verify(_v3_headers(uri=URI + "?tags=a,b"), uri=URI + "?tags=a%2cb")


def test_escapes_hubspot_does_not_list_stay_encoded() -> None:
    """`%20` is not in HubSpot's list: it is signed encoded, and a decoded signature fails."""
    encoded = URI + "?name=Ada%20Lovelace"
    _verify(_v3_headers(uri=encoded), uri=encoded)
    with pytest.raises(SignatureError, match="signature does not match"):
        _verify(_v3_headers(uri=URI + "?name=Ada Lovelace"), uri=encoded)


def test_decode_v3_uri_decodes_exactly_hubspots_list() -> None:
    """All twelve listed escapes are decoded and nothing else."""
    assert decode_v3_uri("%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B") == ":/?@!$'()*,;"
    assert decode_v3_uri("%20%23%26%3D%25") == "%20%23%26%3D%25"


def test_header_names_are_case_insensitive() -> None:
    """Header lookup ignores case, as HTTP requires (ASGI servers pass them lower-cased)."""
    lower = {name.lower(): value for name, value in _v3_headers().items()}
    upper = {name.upper(): value for name, value in _v3_headers().items()}
    _verify(lower)
    _verify(upper)


def test_non_ascii_signature_header_is_refused_not_crashed() -> None:
    """A garbage signature with non-ASCII characters is a mismatch, not a TypeError."""
    headers = _v3_headers() | {"X-HubSpot-Signature-v3": "sïgnätüre"}
    with pytest.raises(SignatureError, match="signature does not match"):
        _verify(headers)


def test_hubspot_client_agrees_on_valid_v3_request() -> None:
    """hubspot-api-client's own validator accepts what we accept (at the real clock)."""
    import time

    timestamp = _ms(time.time())
    headers = _v3_headers(timestamp=timestamp)
    verify_request(
        client_secret=SECRET, method="POST", uri=URI, body=BODY.encode(), headers=headers
    )
    assert Signature.is_valid(
        headers["X-HubSpot-Signature-v3"], SECRET, BODY, URI, "POST", "v3", timestamp
    )


def test_has_signature_detects_any_version() -> None:
    """has_signature is true for v3 or legacy headers in any case, false otherwise."""
    assert has_signature({"x-hubspot-signature-v3": "x"})
    assert has_signature({"X-HubSpot-Signature": "x"})
    assert not has_signature({"X-Codehook-Token": "t", "X-HubSpot-Request-Timestamp": "1"})


def test_public_surface_is_pinned() -> None:
    """connectors.hubspot exposes a small, deliberate API."""
    assert sorted(connectors.hubspot.__all__) == [
        "HubSpotError",
        "SignatureError",
        "TokenBucket",
        "api_error_status",
        "complete_callback",
        "complete_callbacks",
        "has_signature",
        "make_client",
        "object_type_path",
        "retry_after_seconds",
        "update_object",
        "verify_request",
    ]
