"""Output-field declarations and the validation/coercion of what `main(event)` returns."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from sandbox.outputs import (
    OutputInvalid,
    OutputSpec,
    OutputType,
    normalize_outputs,
    parse_output_fields,
    spec_to_dict,
)

LIMIT = 256 * 1024
DAY_MS = 86_400_000
# 2024-03-01T00:00:00Z and 2024-03-01T10:30:00Z in UNIX milliseconds.
MARCH_1 = 1_709_251_200_000
MARCH_1_1030 = MARCH_1 + (10 * 60 + 30) * 60_000
TIERS = OutputSpec(OutputType.ENUMERATION, ("gold", "silver", "1", "2"))


def one(spec: OutputSpec | str, value: Any) -> Any:
    """Normalize a single declared field `x` and return its coerced value (or "absent")."""
    specs = {"x": OutputSpec(OutputType(spec)) if isinstance(spec, str) else spec}
    out = normalize_outputs({"outputFields": {"x": value}}, specs, max_bytes=LIMIT)
    assert out is not None
    return out.get("x", "absent")


# --- declarations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decl", "expected"),
    [
        pytest.param(None, {}, id="none"),
        pytest.param({}, {}, id="empty"),
        pytest.param({"n": "number"}, {"n": OutputSpec(OutputType.NUMBER)}, id="short-form"),
        pytest.param({"n": {"type": "number"}}, {"n": OutputSpec(OutputType.NUMBER)}, id="long"),
        pytest.param({"b": "boolean"}, {"b": OutputSpec(OutputType.BOOL)}, id="alias-boolean"),
        pytest.param({"b": "Boolean"}, {"b": OutputSpec(OutputType.BOOL)}, id="ui-label-case"),
        pytest.param(
            {"p": "Phone number"}, {"p": OutputSpec(OutputType.PHONE_NUMBER)}, id="ui-label-phone"
        ),
        pytest.param({"p": "phone"}, {"p": OutputSpec(OutputType.PHONE_NUMBER)}, id="alias-phone"),
        pytest.param(
            {"p": "phonenumber"}, {"p": OutputSpec(OutputType.PHONE_NUMBER)}, id="alias-phonenumber"
        ),
        pytest.param(
            {"d": " DateTime "}, {"d": OutputSpec(OutputType.DATETIME)}, id="case-and-space"
        ),
        pytest.param(
            {"t": {"type": "enumeration", "options": ["gold", "silver"]}},
            {"t": OutputSpec(OutputType.ENUMERATION, ("gold", "silver"))},
            id="enumeration",
        ),
        pytest.param(
            {"t": {"type": "enumeration", "options": [{"label": "Gold", "value": "gold"}]}},
            {"t": OutputSpec(OutputType.ENUMERATION, ("gold",))},
            id="enumeration-hubspot-option-objects",
        ),
        pytest.param(
            {"A_1" * 33 + "b": "string"},
            {"A_1" * 33 + "b": OutputSpec(OutputType.STRING)},
            id="name-100",
        ),
    ],
)
def test_parse_output_fields_accepts(decl: Any, expected: dict[str, OutputSpec]) -> None:
    """Both declaration forms, HubSpot's aliases and UI labels parse to specs."""
    assert parse_output_fields(decl) == expected


@pytest.mark.parametrize(
    ("decl", "message"),
    [
        pytest.param(["x"], "must be an object mapping names to types, got list", id="not-mapping"),
        pytest.param(
            {"tier": "num"}, "outputFields['tier'].type must be one of string, number", id="bad"
        ),
        pytest.param({"tier": "num"}, "got 'num'", id="quotes-bad-type"),
        pytest.param({"tier": {}}, "got None", id="missing-type"),
        pytest.param({"tier": 3}, "must be a type name or an object", id="type-not-str"),
        pytest.param({"": "string"}, "got ''", id="empty-name"),
        pytest.param({"a-b": "string"}, "got 'a-b'", id="dash-in-name"),
        pytest.param({"a" * 101: "string"}, "1-100 letters", id="name-too-long"),
        pytest.param(
            {"t": "enumeration"}, "outputFields['t'].options must be a non-empty list", id="no-opts"
        ),
        pytest.param(
            {"t": {"type": "enumeration", "options": []}}, "non-empty list", id="empty-options"
        ),
        pytest.param(
            {"t": {"type": "enumeration", "options": ["a", 1]}}, "got 1", id="non-str-option"
        ),
        pytest.param(
            {"t": {"type": "enumeration", "options": ["a", "a"]}}, "lists 'a' twice", id="dup"
        ),
        pytest.param(
            {"n": {"type": "number", "options": ["a"]}}, "only apply to enumeration", id="opts"
        ),
        pytest.param(
            {"n": {"type": "number", "option": ["a"]}}, "unknown keys ['option']", id="typo"
        ),
    ],
)
def test_parse_output_fields_refuses(decl: Any, message: str) -> None:
    """A bad declaration raises ValueError quoting the bad value."""
    with pytest.raises(ValueError) as excinfo:
        parse_output_fields(decl)
    assert message in str(excinfo.value)


def test_spec_to_dict_round_trips_through_json() -> None:
    """spec_to_dict is JSON-serialisable and parse_output_fields reads it back unchanged."""
    specs = {t.value: OutputSpec(t) for t in OutputType if t is not OutputType.ENUMERATION}
    specs["tier"] = OutputSpec(OutputType.ENUMERATION, ("gold", "silver"))
    assert parse_output_fields(json.loads(json.dumps(spec_to_dict(specs)))) == specs


# --- the shape of what main returns --------------------------------------------------------


def test_none_means_no_outputs() -> None:
    """main() returning None yields None, with or without declarations."""
    assert normalize_outputs(None, None, max_bytes=LIMIT) is None
    assert normalize_outputs(None, {"x": OutputSpec(OutputType.STRING)}, max_bytes=LIMIT) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param([1, 2], "or None, got list [1, 2]", id="list"),
        pytest.param("done", "or None, got str 'done'", id="str"),
        pytest.param(4, "or None, got int 4", id="int"),
        pytest.param({"variant": 4}, "without 'outputFields' (keys: 'variant')", id="no-key"),
        pytest.param({"outputFields": [1]}, "outputFields must be a dict, got list", id="list-of"),
        pytest.param(
            {"outputFields": None}, "outputFields must be a dict, got NoneType", id="null"
        ),
    ],
)
def test_wrong_return_shape_says_what_was_returned(value: Any, message: str) -> None:
    """Anything but {'outputFields': {...}} or None is refused, naming what came back."""
    with pytest.raises(OutputInvalid) as excinfo:
        normalize_outputs(value, None, max_bytes=LIMIT)
    assert message in str(excinfo.value)


def test_keys_next_to_output_fields_are_ignored() -> None:
    """Only outputFields is read from the returned dict, as in HubSpot."""
    out = normalize_outputs({"outputFields": {"a": 1}, "debug": object()}, None, max_bytes=LIMIT)
    assert out == {"a": 1}


# --- declared fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        pytest.param("string", "hello", "hello", id="string"),
        pytest.param("string", "", "", id="string-empty-kept"),
        pytest.param("string", "é" * 65_000, "é" * 65_000, id="string-at-limit"),
        pytest.param("string", 12, "12", id="string-from-int"),
        pytest.param("string", 12.5, "12.5", id="string-from-float"),
        pytest.param("string", Decimal("12.50"), "12.5", id="string-from-decimal"),
        pytest.param("number", 3, 3, id="number-int"),
        pytest.param("number", 2.5, 2.5, id="number-float"),
        pytest.param("number", Decimal("12.00"), 12, id="number-integral-decimal"),
        pytest.param("number", Decimal("0.1"), 0.1, id="number-decimal"),
        pytest.param("number", "12.5", 12.5, id="number-string"),
        pytest.param("number", " -3 ", -3, id="number-string-int"),
        pytest.param("number", "1e3", 1000.0, id="number-string-exponent"),
        pytest.param("number", "", "absent", id="number-empty-string-omitted"),
        pytest.param("bool", True, True, id="bool"),
        pytest.param("bool", "false", False, id="bool-string"),
        pytest.param("bool", "TRUE", True, id="bool-string-upper"),
        pytest.param("datetime", datetime(2024, 3, 1, 10, 30), MARCH_1_1030, id="naive-is-utc"),
        pytest.param(
            "datetime",
            datetime(2024, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=1))),
            MARCH_1_1030,
            id="aware",
        ),
        pytest.param("datetime", date(2024, 3, 1), MARCH_1, id="datetime-from-date"),
        pytest.param("datetime", MARCH_1_1030, MARCH_1_1030, id="datetime-ms"),
        pytest.param("datetime", MARCH_1_1030 + 0.4, MARCH_1_1030, id="datetime-float-ms"),
        pytest.param("datetime", str(MARCH_1_1030), MARCH_1_1030, id="datetime-ms-string"),
        pytest.param("datetime", "2024-03-01T10:30:00Z", MARCH_1_1030, id="iso-z"),
        pytest.param("datetime", "2024-03-01T11:30:00+01:00", MARCH_1_1030, id="iso-offset"),
        pytest.param("datetime", "2024-03-01 10:30", MARCH_1_1030, id="iso-naive-is-utc"),
        pytest.param("date", date(2024, 3, 1), MARCH_1, id="date"),
        pytest.param("date", datetime(2024, 3, 1, 23, 59), MARCH_1, id="date-from-datetime"),
        pytest.param(
            "date",
            datetime(2024, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),
            MARCH_1,
            id="date-keeps-own-calendar-day",
        ),
        pytest.param("date", MARCH_1, MARCH_1, id="date-ms-midnight"),
        pytest.param("date", "2024-03-01", MARCH_1, id="date-iso"),
        pytest.param("date", "2024-03-01T18:00:00Z", MARCH_1, id="date-iso-datetime"),
        pytest.param("date", str(MARCH_1), MARCH_1, id="date-ms-string"),
        pytest.param(TIERS, "gold", "gold", id="enumeration"),
        pytest.param(TIERS, 2, "2", id="enumeration-int-matches-text"),
        pytest.param("phone_number", "+1 (555) 010-2030", "+1 (555) 010-2030", id="phone"),
        pytest.param("phone_number", "030 1234567 ext. 12", "030 1234567 ext. 12", id="phone-ext"),
        pytest.param("phone_number", 5550102030, "5550102030", id="phone-int"),
        pytest.param("string", None, "absent", id="none-omitted"),
    ],
)
def test_declared_field_is_coerced(spec: OutputSpec | str, value: Any, expected: Any) -> None:
    """A declared field's value is validated and coerced to its HubSpot type."""
    assert one(spec, value) == expected


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        pytest.param("string", "x" * 65_001, "at most 65,000 characters", id="string-too-long"),
        pytest.param("string", True, "got bool True", id="string-bool"),
        pytest.param("string", ["a"], "got list ['a']", id="string-list"),
        pytest.param("string", float("nan"), "got float nan", id="string-nan"),
        pytest.param("number", True, "got bool True", id="number-bool"),
        pytest.param("number", float("nan"), "got float nan", id="number-nan"),
        pytest.param("number", float("inf"), "got float inf", id="number-inf"),
        pytest.param("number", Decimal("NaN"), "got Decimal", id="number-decimal-nan"),
        pytest.param("number", "12 apples", "got str '12 apples'", id="number-text"),
        pytest.param("number", "nan", "got str 'nan'", id="number-string-nan"),
        pytest.param("number", 10**400, "got int 1000", id="number-beyond-double-range"),
        pytest.param("string", 10**5000, "got int", id="string-from-huge-int"),
        pytest.param("number", "1e999", "got str '1e999'", id="number-string-overflow"),
        pytest.param("number", "١٢", "got str", id="number-non-ascii-digits"),
        pytest.param("bool", 1, "got int 1", id="bool-int"),
        pytest.param("bool", "yes", "got str 'yes'", id="bool-yes"),
        pytest.param("datetime", "tomorrow", "got str 'tomorrow'", id="datetime-text"),
        pytest.param("datetime", True, "got bool True", id="datetime-bool"),
        pytest.param("date", MARCH_1_1030, f"got int {MARCH_1_1030}", id="date-ms-not-midnight"),
        pytest.param("date", "03/01/2024", "got str '03/01/2024'", id="date-us-format"),
        pytest.param(TIERS, "Gold", "one of 'gold', 'silver', '1', '2'", id="enum-case"),
        pytest.param(TIERS, 3, "got int 3", id="enum-int-not-option"),
        pytest.param(TIERS, True, "got bool True", id="enum-bool"),
        pytest.param("phone_number", "call me", "got str 'call me'", id="phone-text"),
        pytest.param("phone_number", "12", "got str '12'", id="phone-too-few-digits"),
        pytest.param("phone_number", -5, "got int -5", id="phone-negative"),
    ],
)
def test_declared_field_refuses_wrong_type(
    spec: OutputSpec | str, value: Any, message: str
) -> None:
    """A wrong type is an OutputInvalid that names the field and quotes the value."""
    with pytest.raises(OutputInvalid) as excinfo:
        one(spec, value)
    assert str(excinfo.value).startswith("outputFields['x'] must be ")
    assert message in str(excinfo.value)
    assert excinfo.value.field == "x"


def test_undeclared_fields_are_dropped_and_missing_ones_absent() -> None:
    """With declarations, extra fields are dropped and missing declared fields are absent."""
    specs = parse_output_fields({"variant": "number", "tier": "string"})
    out = normalize_outputs(
        {"outputFields": {"variant": 2, "debug": object()}}, specs, max_bytes=LIMIT
    )
    assert out == {"variant": 2}


def test_long_bad_value_is_shortened_in_message() -> None:
    """A huge bad value is quoted in abbreviated form, not in full."""
    with pytest.raises(OutputInvalid) as excinfo:
        one("number", "z" * 10_000)
    assert len(str(excinfo.value)) < 300


# --- undeclared outputs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("text", "text", id="str"),
        pytest.param(None, None, id="null-kept"),
        pytest.param(True, True, id="bool"),
        pytest.param(10**30, 10**30, id="big-int"),
        pytest.param(1.5, 1.5, id="float"),
        pytest.param(Decimal("7"), 7, id="decimal-int"),
        pytest.param(Decimal("7.25"), 7.25, id="decimal"),
        pytest.param(datetime(2024, 3, 1, 10, 30, tzinfo=UTC), MARCH_1_1030, id="datetime"),
        pytest.param(date(2024, 3, 1), MARCH_1, id="date"),
        pytest.param((1, "a"), [1, "a"], id="tuple"),
        pytest.param(
            {"when": date(2024, 3, 1), "tags": ["a"], 3: Decimal("1.5")},
            {"when": MARCH_1, "tags": ["a"], "3": 1.5},
            id="nested",
        ),
    ],
)
def test_undeclared_outputs_pass_any_json_value(value: Any, expected: Any) -> None:
    """Without declarations JSON values pass, dates become ms and Decimals numbers."""
    for specs in (None, {}):
        out = normalize_outputs({"outputFields": {"x": value}}, specs, max_bytes=LIMIT)
        assert out == {"x": expected}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({1, 2}, "outputFields['x'] is a set", id="set"),
        pytest.param(b"raw", "outputFields['x'] is a bytes", id="bytes"),
        pytest.param(float("nan"), "outputFields['x'] must be a finite number", id="nan"),
        pytest.param([1, [object()]], "outputFields['x'][1][0] is a object", id="nested-path"),
        pytest.param({"a": {(1, 2): 3}}, "has a tuple key (1, 2)", id="tuple-key"),
        pytest.param(10**400, "must be a finite number", id="int-beyond-double-range"),
        pytest.param(Decimal("1e999999999"), "must be a finite number", id="huge-decimal"),
    ],
)
def test_undeclared_outputs_refuse_non_json_values(value: Any, message: str) -> None:
    """A non-JSON value is refused, naming the path to it."""
    with pytest.raises(OutputInvalid) as excinfo:
        normalize_outputs({"outputFields": {"x": value}}, None, max_bytes=LIMIT)
    assert message in str(excinfo.value)
    assert excinfo.value.field == "x"


def test_cyclic_undeclared_output_is_refused() -> None:
    """A list that contains itself is refused instead of recursing forever."""
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(OutputInvalid, match="nested more than"):
        normalize_outputs({"outputFields": {"x": loop}}, None, max_bytes=LIMIT)


# --- size --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "specs",
    [
        pytest.param(None, id="undeclared"),
        pytest.param({"x": OutputSpec(OutputType.STRING)}, id="declared"),
    ],
)
def test_outputs_over_the_byte_limit_are_refused(specs: dict[str, OutputSpec] | None) -> None:
    """The JSON-encoded outputs must fit max_bytes; the error gives size and limit."""
    value = {"outputFields": {"x": "é" * 1000}}  # 2,000 bytes of UTF-8 plus 8 of JSON
    assert normalize_outputs(value, specs, max_bytes=2008) == {"x": "é" * 1000}
    with pytest.raises(OutputInvalid) as excinfo:
        normalize_outputs(value, specs, max_bytes=2007)
    assert str(excinfo.value) == "outputFields are 2,008 bytes as JSON, over the 2,007-byte limit"


def test_day_constant_matches_calendar() -> None:
    """MARCH_1 used above really is midnight UTC on 2024-03-01."""
    assert datetime.fromtimestamp(MARCH_1 / 1000, UTC) == datetime(2024, 3, 1, tzinfo=UTC)
    assert MARCH_1 % DAY_MS == 0
