"""The language layer in-process: ordinary snippets compile and run; errors point at user lines."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.exceptions import SnippetCompileError
from sandbox.language import (
    MAX_SOURCE_BYTES,
    build_globals,
    call_main,
    compile_snippet,
    describe_error,
)


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def execute(
    source: str, event: dict[str, Any] | None = None, secrets: dict[str, str] | None = None
) -> tuple[Any, str]:
    """Run a whole snippet source; return main's value and the captured log text."""
    logs: list[str] = []
    code = compile_snippet(textwrap.dedent(source))
    globals_ = build_globals(secrets=secrets or {}, log=logs.append)
    return call_main(code, event or {}, globals_), "".join(logs)


def run_body(body: str, **kwargs: Any) -> Any:
    source = "def main(event):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return execute(source, **kwargs)[0]


def compile_issues(source: str) -> list[tuple[str, int | None, int | None]]:
    with pytest.raises(SnippetCompileError) as info:
        compile_snippet(textwrap.dedent(source))
    return [(issue.message, issue.line, issue.column) for issue in info.value.issues]


HUBSPOT_SNIPPET = """
import os
import requests
import hubspot
from hubspot.crm.contacts import SimplePublicObjectInput, ApiException

def main(event):
    token = os.getenv("hstoken")
    client = hubspot.HubSpot(access_token=token)
    properties = {"lifecyclestage": "opportunity"}
    body = SimplePublicObjectInput(properties=properties)
    headers = {"Authorization": 'Bearer {}'.format(token)}
    email = event.get("inputFields").get("email")
    print("updating", email)
    return {"outputFields": {
        "auth": headers["Authorization"],
        "props": body.properties,
        "client": type_name(client),
        "exc": issubclass(ApiException, Exception),
        "http": issubclass(requests.exceptions.HTTPError, Exception),
    }}

def type_name(obj):
    return repr(obj).split(" ")[0]
"""


def test_hubspot_snippet_runs_unchanged() -> None:
    """The canonical HubSpot snippet (os, requests, hubspot imports, client) runs as written."""
    value, logs = execute(HUBSPOT_SNIPPET, {"inputFields": {"email": "a@b.c"}}, {"hstoken": "pat"})
    assert value["outputFields"] == {
        "auth": "Bearer pat",
        "props": {"lifecyclestage": "opportunity"},
        "client": "<hubspot.hubspot.HubSpot",
        "exc": True,
        "http": True,
    }
    assert logs == "updating a@b.c\n"


def test_ordinary_python_idioms_compile_and_run() -> None:
    """Constants, helpers, classes with `self.total += x`, item aug-assign and the rest work."""
    value, _ = execute(
        """
        import decimal
        from collections import Counter, defaultdict
        RATE = decimal.Decimal("0.15")
        seen = []

        class Tally:
            def __init__(self):
                self.total = 0
                self.parts = [5, 5]
            def add(self, x):
                self.total += x
                self.parts[0] -= 1
                return self

        def squares(n):
            for i in range(n):
                yield i * i

        def collect(*args, **kwargs):
            return len(args), sorted(kwargs)

        def main(event):
            global seen
            counts = {}
            for tag in ["a", "b", "a"]:
                counts.setdefault(tag, 0)
                counts[tag] += 1
            nested = {"x": [1, 2]}
            nested["x"][1] *= 10
            t = Tally().add(3).add(4)
            first, (second, third) = 1, (2, 3)
            with decimal.localcontext() as ctx:
                ctx.prec = 5
                commission = decimal.Decimal("1234.5") * RATE
            try:
                1 / 0
            except ZeroDivisionError as exc:
                caught = str(exc)
            seen = seen + [1]
            dd = defaultdict(int)
            dd["k"] += 2
            return {"outputFields": {
                "counts": counts, "nested": nested, "total": t.total, "parts": t.parts,
                "unpacked": first + second + third, "commission": str(commission),
                "caught": caught, "squares": list(squares(4)), "collect": collect(1, 2, z=3),
                "lambda": sorted([3, 1, 2], key=lambda v: -v), "fmt": f"{t.total:>4}|",
                "comp": {k: v for k, v in counts.items() if v > 1},
                "money": "{:,.2f}".format(1234.5), "mixed": "{name}: {0:>5}".format(3, name="x"),
                "repr": "{!r}".format("q"), "percent": "%s=%d" % ("n", 4),
                "counter": Counter("aab").most_common(1), "dd": dict(dd), "seen": seen,
            }}
        """
    )
    assert value["outputFields"] == {
        "counts": {"a": 2, "b": 1},
        "nested": {"x": [1, 20]},
        "total": 7,
        "parts": [3, 5],
        "unpacked": 6,
        "commission": "185.18",
        "caught": "division by zero",
        "squares": [0, 1, 4, 9],
        "collect": (2, ["z"]),
        "lambda": [3, 2, 1],
        "fmt": "   7|",
        "comp": {"a": 2},
        "money": "1,234.50",
        "mixed": "x:     3",
        "repr": "'q'",
        "percent": "n=4",
        "counter": [("a", 2)],
        "dd": {"k": 2},
        "seen": [1],
    }


def test_augmented_assignment_evaluates_object_and_key_once() -> None:
    """`obj[f()] += 1` calls f() once, as Python does."""
    value = run_body(
        """
        calls = []
        def key():
            calls.append(1)
            return "k"
        d = {"k": 1}
        d[key()] += 1
        return d, len(calls)
        """
    )
    assert value == ({"k": 2}, 1)


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("+=", 14),
        ("-=", 10),
        ("*=", 24),
        ("/=", 6.0),
        ("//=", 6),
        ("%=", 0),
        ("**=", 144),
        ("<<=", 48),
        (">>=", 3),
        ("&=", 0),
        ("|=", 14),
        ("^=", 14),
    ],
)
def test_every_augmented_operator_works_on_items(op: str, expected: Any) -> None:
    """Each augmented operator applies through _inplacevar_ on an item target."""
    assert run_body(f"d = {{'v': 12}}\nd['v'] {op} 2\nreturn d['v']") == expected


def test_allowlisted_modules_all_import() -> None:
    """Every allowlisted module imports, including dotted and from-imports of submodules."""
    value = run_body(
        """
        import time, json, re, datetime, math, random, typing, logging, decimal, statistics
        import collections.abc, itertools, functools, string, uuid, hashlib, hmac, base64
        import zoneinfo, calendar, urllib.parse, html, copy, enum, dataclasses, textwrap
        import secrets, httpx, requests.auth
        from requests.adapters import HTTPAdapter
        from requests.exceptions import HTTPError
        from hubspot.crm import contacts
        return urllib.parse.quote("a b"), requests.auth.HTTPBasicAuth("u", "p").username
        """
    )
    assert value == ("a%20b", "u")


def test_unknown_import_names_the_module_and_lists_available() -> None:
    """A refused import says which module and what is available instead."""
    with pytest.raises(ImportError) as info:
        run_body("import subprocess")
    message = str(info.value)
    assert message.startswith("module 'subprocess' is not available in Codehook snippets")
    assert "available: base64, calendar, collections" in message


def test_os_shim_exposes_only_granted_secrets() -> None:
    """getenv/environ see only the granted secrets; writes stay inside the execution."""
    value = run_body(
        """
        import os
        os.environ["EXTRA"] = "x"
        return (os.getenv("hstoken"), os.getenv("nope", "dflt"), os.environ["hstoken"],
                os.environ.get("nope"), "hstoken" in os.environ, sorted(os.environ),
                dict(os.environ.items()))
        """,
        secrets={"hstoken": "pat-1"},
    )
    assert value == (
        "pat-1",
        "dflt",
        "pat-1",
        None,
        True,
        ["EXTRA", "hstoken"],
        {"hstoken": "pat-1", "EXTRA": "x"},
    )


def test_print_and_logging_are_captured_in_order() -> None:
    """print() text and root-logger records reach the log, one line per record."""
    _, logs = execute(
        """
        import logging
        logger = logging.getLogger("sync")
        def main(event):
            print("a", 1, sep="-")
            logging.info("count %s", 2)
            logger.warning("careful")
            logger.debug("hidden")
        """
    )
    assert logs == "a-1\nINFO root: count 2\nWARNING sync: careful\n"


def test_safe_logging_configuration_keeps_working() -> None:
    """basicConfig/Formatter with plain `{message}` or `%(message)s` formats still log."""
    _, logs = execute(
        """
        import logging
        def main(event):
            logging.basicConfig(format="{levelname}|{message}", style="{", force=True)
            logging.warning("one")
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(name)s>%(message)s"))
            log = logging.getLogger("x")
            log.addHandler(handler)
            log.propagate = False
            log.warning("two")
        """
    )
    assert logs == "WARNING|one\nx>two\n"


def test_snippet_classes_enums_and_dataclasses_work() -> None:
    """Classes built on library bases (Enum, dataclass, Exception) behave normally."""
    value = run_body(
        """
        import enum, dataclasses
        class Tier(enum.Enum):
            GOLD = 1
        @dataclasses.dataclass
        class Deal:
            amount: float
            tags: list = dataclasses.field(default_factory=list)
        class RetryLater(Exception):
            pass
        d = Deal(5.0)
        d.amount += 1
        try:
            raise RetryLater("x")
        except RetryLater as exc:
            msg = str(exc)
        return Tier.GOLD.name, d.amount, d.tags, msg
        """
    )
    assert value == ("GOLD", 6.0, [], "x")


def test_snippet_class_attributes_are_writable() -> None:
    """A snippet's own class accepts class-level writes (counters, caches)."""
    value = run_body(
        """
        class Seen:
            count = 0
        Seen.count += 2
        setattr(Seen, "label", "x")
        return Seen.count, Seen.label
        """
    )
    assert value == (2, "x")


def test_library_instance_attributes_are_writable() -> None:
    """Ordinary instances of library classes accept attribute writes (config.access_token)."""
    value = run_body(
        """
        import hubspot.crm.contacts
        config = hubspot.crm.contacts.Configuration()
        config.access_token = "pat-2"
        return config.access_token
        """
    )
    assert value == "pat-2"


def test_compile_error_reports_syntax_error_line_and_column() -> None:
    """A syntax error comes back with its 1-based line and 0-based column."""
    assert compile_issues("def main(event):\n    x = = 1\n") == [
        ("SyntaxError: invalid syntax", 2, 8)
    ]


def test_compile_error_reports_errors_found_by_the_bytecode_compiler() -> None:
    """Errors CPython finds only while compiling (e.g. `return` outside a function) have lines."""
    assert compile_issues("def main(event):\n    pass\nreturn 5\n") == [
        ("SyntaxError: 'return' outside function", 3, 0)
    ]


def test_compile_error_lists_every_policy_refusal() -> None:
    """All policy refusals are reported, each with its own line and column."""
    issues = compile_issues(
        """\
        def main(event):
            a = event.__class__
            b = _private
            return a
        """
    )
    assert [(line, column) for _, line, column in issues] == [(2, 8), (3, 8)]
    assert '"__class__" is an invalid attribute name' in issues[0][0]
    assert '"_private" is an invalid variable name' in issues[1][0]


def test_compile_refuses_source_without_main() -> None:
    """A snippet without a top-level `def main` is refused at compile time."""
    assert compile_issues("def helper(event):\n    return None\n") == [
        ("snippet defines no top-level `def main(event)`", None, None)
    ]


def test_compile_refuses_oversized_source() -> None:
    """Sources over 256 KiB are refused before parsing."""
    issues = compile_issues("def main(event):\n    pass\n" + "#" * MAX_SOURCE_BYTES)
    assert "the limit is 262144 bytes" in issues[0][0]


def test_compile_refuses_deeply_nested_source_without_crashing() -> None:
    """A pathological expression is a compile error, not a RecursionError."""
    issues = compile_issues("def main(event):\n    return " + "(" * 5000 + ")" * 5000)
    assert issues and issues[0][0]


def test_call_main_without_callable_main_raises_clear_error() -> None:
    """A module that rebinds `main` to a non-callable fails with a named error."""
    code = compile_snippet("def main(event):\n    pass\nmain = 3\n")
    with pytest.raises(NameError, match=r"snippet defines no main\(event\)"):
        call_main(code, {}, build_globals(secrets={}, log=lambda _text: None))


def test_describe_error_points_at_user_line_and_shows_only_snippet_frames() -> None:
    """The error line and traceback come from the snippet's own source, not the runtime."""
    source = textwrap.dedent(
        """\
        import json

        def parse(text):
            return json.loads(text)

        def main(event):
            return parse("{oops")
        """
    )
    with pytest.raises(ValueError) as info:
        call_main(compile_snippet(source), {}, build_globals(secrets={}, log=lambda _t: None))
    error = describe_error(info.value, source)
    assert error.type == "JSONDecodeError"
    assert error.line == 4
    assert error.traceback == (
        "Traceback (most recent call last):\n"
        '  File "<snippet>", line 7, in main\n'
        '    return parse("{oops")\n'
        '  File "<snippet>", line 4, in parse\n'
        "    return json.loads(text)\n"
        f"JSONDecodeError: {error.message}"
    )


def test_random_is_reseeded_for_every_execution() -> None:
    """Two executions do not draw the same random sequence."""
    draws = {run_body("import random\nreturn random.random()") for _ in range(3)}
    assert len(draws) == 3
