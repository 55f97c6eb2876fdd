"""Output-field declarations, and the validation and coercion of what `main(event)` returns.

Declared types follow HubSpot's custom-code output types. Coercion is lenient where HubSpot
snippets commonly rely on it (CRM properties arrive as strings) and strict where a silent
conversion would change meaning:

- `string`: a str of at most 65,000 characters; an int, float or Decimal is written as its
  decimal text (`12` -> `"12"`); a bool or anything else is refused.
- `number`: a finite int, float or Decimal, or a numeric string (`"12.5"`, `" 3 "`, `"1e3"`),
  as an int when integral text/Decimal, else a float; a bool, NaN, infinity and ints beyond a
  double's range are refused.
- `bool`: True/False, or the strings "true"/"false" in any case.
- `datetime`: UNIX milliseconds. A datetime (naive means UTC) or date is converted; an int or
  float is taken as milliseconds (floats rounded); a string of digits is milliseconds, any other
  string is parsed as ISO-8601 (naive means UTC).
- `date`: UNIX milliseconds at midnight UTC. A date is used as is; a datetime contributes its own
  calendar date (as written, before any time-zone conversion); an ISO-8601 string likewise;
  milliseconds must already fall on midnight UTC.
- `enumeration`: one of the declared options, compared exactly; an int is matched by its text so
  `variant = 3` fits options `["1", "2", "3", "4"]`.
- `phone_number`: a string (or non-negative int) made of digits and `+ ( ) - . /` and spaces,
  with an optional extension (`x123`, `ext. 123`), holding at least three digits.

A declared field whose value is None is omitted; for every type but `string`, an empty or
blank string is omitted too (HubSpot returns unset properties as ""). Fields a snippet returns
but did not declare are dropped, as in HubSpot, where only declared outputs reach the workflow.
Keys next to `outputFields` in the returned dict are ignored.

Without declarations every JSON value passes through (None stays null); datetime and date
become UNIX milliseconds, Decimal an int or float, tuples lists, int keys strings; anything else
(sets, bytes, objects, NaN) is refused, naming the path to it.

Either way the outputs, as compact UTF-8 JSON, must fit `max_bytes`.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

__all__ = [
    "MAX_STRING_CHARS",
    "OutputInvalid",
    "OutputSpec",
    "OutputType",
    "normalize_outputs",
    "parse_output_fields",
    "spec_to_dict",
]

MAX_STRING_CHARS = 65_000
_MAX_DEPTH = 64
_MAX_INT_BITS = 1024  # beyond this an int is out of a double's range
_MAX_EXPONENT = 308
_MS_PER_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)

_FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
# ASCII only: int() and \d would otherwise accept any Unicode digit.
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d{1,300}(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_MS_TEXT = re.compile(r"-?\d{1,20}", re.ASCII)
_PHONE = re.compile(
    r"\+?[0-9 ().\-/]+(?:\s*(?:x|ext\.?|extension)\s*\d+)?", re.ASCII | re.IGNORECASE
)

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxlist = _repr.maxtuple = _repr.maxdict = 6


class OutputType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOL = "bool"
    DATETIME = "datetime"
    DATE = "date"
    ENUMERATION = "enumeration"
    PHONE_NUMBER = "phone_number"


# What HubSpot users write besides the canonical names: the UI says "Boolean" and
# "Phone number"; the property API says "bool" and "phone_number".
_ALIASES = {
    "boolean": OutputType.BOOL,
    "phone": OutputType.PHONE_NUMBER,
    "phonenumber": OutputType.PHONE_NUMBER,
}


@dataclass(frozen=True)
class OutputSpec:
    type: OutputType
    options: tuple[str, ...] = ()


class OutputInvalid(ValueError):
    """What `main` returned does not fit the output contract; `field` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _show(value: Any) -> str:
    """A short repr for error messages, safe on huge or odd values."""
    try:
        return _repr.repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"


def parse_output_fields(decl: Mapping[str, Any] | None) -> dict[str, OutputSpec]:
    """Parse `{name: "number"}` / `{name: {"type": "enumeration", "options": [...]}}`.

    Type names are case-insensitive, spaces and dashes count as underscores, and the aliases
    "boolean", "phone" and "phonenumber" are accepted. Options are strings or HubSpot-style
    `{"label": ..., "value": ...}` objects (the value is kept).
    """
    if decl is None:
        return {}
    if not isinstance(decl, Mapping):
        raise ValueError(
            f"outputFields must be an object mapping names to types, got {type(decl).__name__}"
        )
    specs: dict[str, OutputSpec] = {}
    for name, raw in decl.items():
        if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
            raise ValueError(
                f"outputFields names must be 1-100 letters, digits or underscores, got {name!r}"
            )
        specs[name] = _parse_spec(name, raw)
    return specs


def _parse_spec(name: str, raw: Any) -> OutputSpec:
    where = f"outputFields[{name!r}]"
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a type name or an object with 'type', got {_show(raw)}")
    unknown = sorted(str(key) for key in raw if key not in ("type", "options"))
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; allowed: 'type', 'options'")
    type_ = _parse_type(where, raw.get("type"))
    options = raw.get("options")
    if type_ is not OutputType.ENUMERATION:
        if options:
            raise ValueError(f"{where}.options only apply to enumeration fields, not {type_}")
        return OutputSpec(type_)
    return OutputSpec(type_, _parse_options(where, options))


def _parse_type(where: str, raw: Any) -> OutputType:
    key = raw.strip().lower().replace(" ", "_").replace("-", "_") if isinstance(raw, str) else ""
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return OutputType(key)
    except ValueError:
        allowed = ", ".join(t.value for t in OutputType)
        raise ValueError(f"{where}.type must be one of {allowed}, got {raw!r}") from None


def _parse_options(where: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not raw:
        raise ValueError(f"{where}.options must be a non-empty list of strings, got {_show(raw)}")
    options: list[str] = []
    for item in raw:
        value = item.get("value") if isinstance(item, Mapping) else item
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}.options must be non-empty strings, got {_show(item)}")
        if value in options:
            raise ValueError(f"{where}.options lists {value!r} twice")
        options.append(value)
    return tuple(options)


def spec_to_dict(specs: Mapping[str, OutputSpec]) -> dict[str, Any]:
    """The JSON form of `specs`, which `parse_output_fields` reads back unchanged."""
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        if spec.type is OutputType.ENUMERATION:
            out[name] = {"type": spec.type.value, "options": list(spec.options)}
        else:
            out[name] = spec.type.value
    return out


def normalize_outputs(
    value: Any, specs: Mapping[str, OutputSpec] | None, *, max_bytes: int
) -> dict[str, Any] | None:
    """Check what `main` returned against `specs` and return the JSON-ready output fields."""
    if value is None:
        return None
    fields = _output_fields(value)
    if specs:
        outputs = {}
        for name, spec in specs.items():
            if name in fields:
                coerced = _coerce(name, spec, fields[name])
                if coerced is not None:
                    outputs[name] = coerced
    else:
        outputs = {}
        for name, item in fields.items():
            key = _key(name, "outputFields")
            try:
                outputs[key] = _to_json(item, _where(name), 0)
            except OutputInvalid as exc:
                exc.field = key
                raise
    size = len(json.dumps(outputs, ensure_ascii=False, separators=(",", ":")).encode())
    if size > max_bytes:
        raise OutputInvalid(
            f"outputFields are {size:,} bytes as JSON, over the {max_bytes:,}-byte limit"
        )
    return outputs


def _output_fields(value: Any) -> Mapping[Any, Any]:
    expected = "main() must return {'outputFields': {...}} or None"
    if not isinstance(value, Mapping):
        raise OutputInvalid(f"{expected}, got {type(value).__name__} {_show(value)}")
    if "outputFields" not in value:
        keys = ", ".join(_show(k) for k in list(value)[:6]) or "none"
        raise OutputInvalid(f"{expected}, got a dict without 'outputFields' (keys: {keys})")
    fields = value["outputFields"]
    if not isinstance(fields, Mapping):
        raise OutputInvalid(
            f"outputFields must be a dict, got {type(fields).__name__} {_show(fields)}"
        )
    return fields


def _where(name: Any) -> str:
    return f"outputFields[{name!r}]"


def _key(key: Any, where: str) -> str:
    # JSON object keys are strings; ints are written as their text, as json.dumps does.
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise OutputInvalid(
        f"{where} has a {type(key).__name__} key {_show(key)}; keys must be strings"
    )


def _to_json(value: Any, where: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise OutputInvalid(f"{where} is nested more than {_MAX_DEPTH} levels deep")
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float | Decimal):
        number = _finite(value)
        if number is None:
            raise OutputInvalid(f"{where} must be a finite number, got {_show(value)}")
        return number
    if isinstance(value, date):
        return _datetime_ms(value)
    if isinstance(value, list | tuple):
        return [_to_json(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {_key(k, where): _to_json(v, f"{where}[{k!r}]", depth + 1) for k, v in value.items()}
    raise OutputInvalid(
        f"{where} is a {type(value).__name__} ({_show(value)}), which is not a JSON value"
    )


def _finite(value: Any) -> int | float | None:
    """`value` as a JSON number (an integral Decimal becomes an int), or None if it is not one.

    Ints must fit a double's range: JSON readers (HubSpot's included) parse numbers as doubles,
    and `json.dumps` cannot even write an int of more than 4,300 digits.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, Decimal):
        # adjusted() first: int(Decimal("1e999999999")) would build a billion-digit int.
        if not value.is_finite() or value.adjusted() > _MAX_EXPONENT:
            return None
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int):
        return value if value.bit_length() <= _MAX_INT_BITS else None
    return value if math.isfinite(value) else None


def _datetime_ms(value: date) -> int:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _ONE_MS


def _coerce(name: str, spec: OutputSpec, value: Any) -> Any:
    """Coerce one declared field; None means "omit it"."""
    where = _where(name)
    if value is None:
        return None
    if isinstance(value, str) and not value.strip() and spec.type is not OutputType.STRING:
        return None
    try:
        return _COERCERS[spec.type](value, spec)
    except _Refused as refused:
        raise OutputInvalid(
            f"{where} must be {refused.expected}, got {type(value).__name__} {_show(value)}",
            field=name,
        ) from None


class _Refused(Exception):
    """Internal signal from a coercer, turned into `OutputInvalid` with the field's name."""

    def __init__(self, expected: str) -> None:
        self.expected = expected


def _as_string(value: Any, spec: OutputSpec) -> str:
    expected = f"a string of at most {MAX_STRING_CHARS:,} characters"
    number = _finite(value)
    if number is not None:
        value = str(number)
    if not isinstance(value, str) or len(value) > MAX_STRING_CHARS:
        raise _Refused(expected)
    return value


def _as_number(value: Any, spec: OutputSpec) -> int | float:
    expected = "a finite number (int, float, Decimal or numeric string)"
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER_TEXT.fullmatch(text):
            raise _Refused(expected)
        integral = not any(c in text for c in ".eE")
        value = int(text) if integral else float(text)
    number = _finite(value)
    if number is None:
        raise _Refused(expected)
    return number


def _as_bool(value: Any, spec: OutputSpec) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _Refused('True, False, "true" or "false"')


def _as_datetime(value: Any, spec: OutputSpec) -> int:
    expected = "a datetime, a date, UNIX milliseconds or an ISO-8601 string"
    if isinstance(value, date):
        return _datetime_ms(value)
    if isinstance(value, str):
        text = value.strip()
        if _MS_TEXT.fullmatch(text):
            return int(text)
        try:
            return _datetime_ms(datetime.fromisoformat(text))
        except ValueError:
            raise _Refused(expected) from None
    number = _finite(value)
    if number is not None:
        return round(number)
    raise _Refused(expected)


def _as_date(value: Any, spec: OutputSpec) -> int:
    expected = "a date, UNIX milliseconds at midnight UTC or an ISO-8601 date"
    if isinstance(value, datetime):
        return _datetime_ms(value.date())
    if isinstance(value, date):
        return _datetime_ms(value)
    if isinstance(value, str):
        text = value.strip()
        if _MS_TEXT.fullmatch(text):
            value = int(text)
        else:
            try:
                return _datetime_ms(datetime.fromisoformat(text).date())
            except ValueError:
                raise _Refused(expected) from None
    if isinstance(value, int) and not isinstance(value, bool) and value % _MS_PER_DAY == 0:
        return value
    raise _Refused(expected)


def _as_enumeration(value: Any, spec: OutputSpec) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and text in spec.options:
        return text
    shown = ", ".join(repr(o) for o in spec.options[:10])
    more = f" (and {len(spec.options) - 10} more)" if len(spec.options) > 10 else ""
    raise _Refused(f"one of {shown}{more}")


def _as_phone_number(value: Any, spec: OutputSpec) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        digits = sum(c in "0123456789" for c in text)
        if len(text) <= 50 and digits >= 3 and _PHONE.fullmatch(text):
            return text
    raise _Refused("a phone number such as '+1 (555) 010-2030'")


_COERCERS = {
    OutputType.STRING: _as_string,
    OutputType.NUMBER: _as_number,
    OutputType.BOOL: _as_bool,
    OutputType.DATETIME: _as_datetime,
    OutputType.DATE: _as_date,
    OutputType.ENUMERATION: _as_enumeration,
    OutputType.PHONE_NUMBER: _as_phone_number,
}
