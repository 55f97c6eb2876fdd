"""Replace granted secret values (and their common encodings) with `[REDACTED:NAME]`."""

from __future__ import annotations

import base64
import dataclasses
import urllib.parse
from collections.abc import Mapping
from typing import Any

from sandbox.result import ExecutionResult

# Shorter values would redact ordinary words; such secrets are too weak to protect this way.
MIN_REDACTED_LENGTH = 4


class Redactor:
    def __init__(self, secrets: Mapping[str, str]) -> None:
        pairs: dict[str, str] = {}
        for name, value in secrets.items():
            if not isinstance(value, str) or len(value) < MIN_REDACTED_LENGTH:
                continue
            marker = f"[REDACTED:{name}]"
            raw = value.encode()
            for form in (
                value,
                base64.b64encode(raw).decode().rstrip("="),
                base64.urlsafe_b64encode(raw).decode().rstrip("="),
                urllib.parse.quote(value, safe=""),
                urllib.parse.quote_plus(value),
                repr(value)[1:-1],
            ):
                if len(form) >= MIN_REDACTED_LENGTH:
                    pairs.setdefault(form, marker)
        # Longest first, so a value that contains another secret is replaced whole.
        self._pairs = sorted(pairs.items(), key=lambda item: -len(item[0]))

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def text(self, value: str) -> str:
        for secret, marker in self._pairs:
            if secret in value:
                value = value.replace(secret, marker)
        return value

    def value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def redact_result(result: ExecutionResult, secrets: Mapping[str, str]) -> ExecutionResult:
    redactor = Redactor(secrets)
    if not redactor:
        return result
    error = result.error
    if error is not None:
        error = dataclasses.replace(
            error,
            message=redactor.text(error.message),
            traceback=redactor.text(error.traceback) if error.traceback else error.traceback,
        )
    return dataclasses.replace(
        result,
        logs=redactor.text(result.logs),
        error=error,
        output_fields=redactor.value(result.output_fields),
    )
