"""Errors raised while turning a webhook call into a snippet event.

HookError
└── PayloadError   the hook body is not a payload HubSpot sends; names the field at fault
"""

from __future__ import annotations


class HookError(Exception):
    pass


class PayloadError(HookError):
    """The hook body was refused; `field` is the offending JSON path (`""` for the body itself)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
