"""Format-string policy: replacement fields may name arguments, never traverse them."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

# Parsing is done by the real Formatter in trusted code; only its output is inspected.
_PARSER = string.Formatter()


class FormatTraversalError(ValueError):
    """A format string tried to reach an attribute or item through a replacement field."""


def check_format_string(fmt: str, *, depth: int = 0) -> None:
    """Refuse `fmt` if any replacement field (nested specs included) uses `.` or `[`."""
    if depth > 2:
        # str.format itself refuses nesting deeper than two levels.
        raise FormatTraversalError("format specs are nested too deeply")
    for _literal, field, spec, _conversion in _PARSER.parse(fmt):
        if field is not None and ("." in field or "[" in field):
            raise FormatTraversalError(
                f"format field {{{field}}} is not allowed in Codehook snippets: "
                "attribute and index access inside format strings is refused; "
                "compute the value first and pass it as an argument"
            )
        if spec:
            check_format_string(spec, depth=depth + 1)


def safe_format(fmt: str, /, *args: Any, **kwargs: Any) -> str:
    """`str.format` that refuses attribute and index traversal in field names."""
    check_format_string(fmt)
    return fmt.format(*args, **kwargs)


def safe_format_map(fmt: str, mapping: Mapping[str, Any], /) -> str:
    """`str.format_map` that refuses attribute and index traversal in field names."""
    check_format_string(fmt)
    return fmt.format_map(mapping)


class SafeFormatter(string.Formatter):
    """`string.Formatter` whose field lookup refuses attribute and index traversal."""

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        check_format_string(format_string)
        return super().vformat(format_string, args, kwargs)

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if "." in field_name or "[" in field_name:
            raise FormatTraversalError(
                f"format field {{{field_name}}} is not allowed in Codehook snippets"
            )
        return super().get_field(field_name, args, kwargs)
