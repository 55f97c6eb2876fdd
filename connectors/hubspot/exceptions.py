"""Errors the HubSpot connector raises.

HubSpotError
└── SignatureError   a webhook request's signature is missing, malformed, stale or wrong
"""

from __future__ import annotations


class HubSpotError(Exception):
    pass


class SignatureError(HubSpotError):
    """The request cannot be shown to come from HubSpot; the message says what is wrong."""
