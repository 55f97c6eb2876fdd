"""Hostile snippets at the language level: each escape route ends in a specific refusal."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.exceptions import SnippetCompileError
from sandbox.language import build_globals, call_main, compile_snippet


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(body: str, *, secrets: dict[str, str] | None = None) -> Any:
    """Compile and run `body` as the body of main(event), in-process."""
    source = textwrap.dedent(body)
    if "def main" not in source:
        source = "def main(event):\n" + textwrap.indent(source, "    ")
    code = compile_snippet(source)
    globals_ = build_globals(secrets=secrets or {}, log=lambda _text: None)
    return call_main(code, {"inputFields": {}}, globals_)


def case(id: str, body: str, error: type[BaseException], fragment: str) -> Any:
    return pytest.param(body, error, fragment, id=id)


RUNTIME_REFUSALS = [
    # Frames through generators and coroutines.
    case(
        "gen-gi_frame-getattr",
        "g = (x for x in [1])\nreturn getattr(g, 'gi_frame')",
        AttributeError,
        'attribute "gi_frame" is not allowed',
    ),
    case(
        "gen-gi_code-getattr",
        "g = (x for x in [1])\nreturn getattr(g, 'gi' + '_code')",
        AttributeError,
        'attribute "gi_code" is not allowed',
    ),
    case(
        "gen-gi_yieldfrom",
        "def f():\n    yield from [1]\nreturn getattr(f(), 'gi_yieldfrom')",
        AttributeError,
        "gi_yieldfrom",
    ),
    case("frame-f_back", "return getattr(event, 'f_back')", AttributeError, "f_back"),
    case("type-mro", "return getattr(int, 'mro')()", AttributeError, 'attribute "mro"'),
    # Computed underscore names.
    case(
        "getattr-dunder-class",
        "return getattr(event, '_' + '_class__')",
        AttributeError,
        'starts with "_"',
    ),
    case(
        "getattr-dunder-globals",
        "return getattr(main, '_' + '_globals__')",
        AttributeError,
        'starts with "_"',
    ),
    case(
        "getattr-subclasses",
        "return getattr(object, '__subcl' + 'asses__')()",
        AttributeError,
        'starts with "_"',
    ),
    case(
        "setattr-underscore",
        "class C:\n    pass\nsetattr(C(), '_x', 1)",
        AttributeError,
        'starts with "_"',
    ),
    case(
        "random-_os-getattr",
        "import random\nreturn getattr(random, '_os')",
        AttributeError,
        'starts with "_"',
    ),
    case(
        "exception-traceback",
        "try:\n    1 / 0\nexcept Exception as e:\n    return getattr(e, '__trace' + 'back__')",
        AttributeError,
        'starts with "_"',
    ),
    # Format strings.
    case("format-attr", "return '{0.__class__}'.format(1)", ValueError, "format field"),
    case("format-kw-attr", "return '{x.real}'.format(x=1)", ValueError, "{x.real}"),
    case("format-index", "return '{0[key]}'.format({'key': 1})", ValueError, "{0[key]}"),
    case(
        "format-nested-spec", "return '{0:{1.__class__}}'.format(1, 2)", ValueError, "format field"
    ),
    case(
        "format_map-attr", "return '{a.__class__}'.format_map({'a': 1})", ValueError, "format field"
    ),
    case("str-format-unbound", "return str.format('{0.__class__}', 1)", ValueError, "format field"),
    case(
        "getattr-format", "return getattr('{0.__class__}', 'format')(1)", ValueError, "format field"
    ),
    case(
        "userstring-format",
        "import collections\nreturn collections.UserString('{0.__class__}').format(1)",
        ValueError,
        "format field",
    ),
    case(
        "string-formatter-format",
        "import string\nreturn string.Formatter().format('{0.__class__}', 1)",
        ValueError,
        "format field",
    ),
    case(
        "string-formatter-get_field",
        "import string\nreturn string.Formatter().get_field('0.real', [1], {})",
        ValueError,
        "format field",
    ),
    case(
        "string-formatter-evil-parse",
        "import string\n"
        "class F(string.Formatter):\n    def parse(self, s):\n"
        "        return [('', '0.real', '', None)]\nreturn F().format('x', 1)",
        ValueError,
        "format field",
    ),
    # Module graph traversal.
    case(
        "requests-utils-os",
        "import requests\nreturn requests.utils.os",
        AttributeError,
        "the real module 'os' is not available",
    ),
    # Python 3.11's re has no `sys` attribute; either way the chain ends in a refusal.
    case("json-decoder-re-sys", "import json\nreturn json.decoder.re.sys", AttributeError, "'sys'"),
    case(
        "re-enum-sys",
        "import re\nreturn re.enum.sys",
        AttributeError,
        "module 'sys' is not available",
    ),
    case("datetime-sys", "import datetime\nreturn datetime.sys", AttributeError, "'sys'"),
    case("logging-os", "import logging\nreturn logging.os", AttributeError, "'os'"),
    case(
        "hubspot-rest-urllib3",
        "import hubspot.crm.contacts\nreturn hubspot.crm.contacts.rest.urllib3",
        AttributeError,
        "module 'urllib3' is not available",
    ),
    case(
        "requests-packages-urllib3",
        "import requests\nreturn requests.packages.urllib3",
        AttributeError,
        "module 'urllib3' is not available",
    ),
    case(
        "getattr-module-default",
        "import requests\nreturn getattr(requests.utils, 'sys')",
        AttributeError,
        "'sys'",
    ),
    case(
        "typing-sys-modules",
        "import typing\nreturn typing.sys.modules",
        AttributeError,
        "module 'sys' is not available",
    ),
    case(
        "from-requests-utils-import-os",
        "from requests.utils import os\nreturn os",
        ImportError,
        "the real module 'os' is not available",
    ),
    case(
        "from-hubspot-rest-import-urllib3",
        "from hubspot.crm.contacts.rest import urllib3",
        ImportError,
        "module 'urllib3' is not available",
    ),
    case(
        "import-requests-packages-urllib3",
        "import requests.packages.urllib3",
        ImportError,
        "module 'urllib3' is not available",
    ),
    case("from-os-import-path", "from os import path", ImportError, "cannot import name 'path'"),
    case("import-os-path", "import os.path", ImportError, "module 'os.path' is not available"),
    case(
        "import-subprocess",
        "import subprocess",
        ImportError,
        "module 'subprocess' is not available in Codehook snippets; available: base64",
    ),
    case("import-sys", "import sys", ImportError, "module 'sys' is not available"),
    case("import-from-builtins", "from builtins import open", ImportError, "module 'builtins'"),
    case("import-importlib", "import importlib", ImportError, "module 'importlib'"),
    case("import-ctypes", "import ctypes", ImportError, "module 'ctypes'"),
    case("import-socket", "import socket", ImportError, "module 'socket'"),
    case("import-operator", "import operator", ImportError, "module 'operator'"),
    case("import-urllib-request", "import urllib.request", ImportError, "module 'urllib.request'"),
    case(
        "from-urllib-import-request",
        "from urllib import request",
        ImportError,
        "module 'urllib.request'",
    ),
    case("relative-import", "from . import secrets_file", ImportError, "relative imports"),
    case("import-logging-config", "import logging.config", ImportError, "module 'logging.config'"),
    case(
        "from-logging-import-handlers",
        "from logging import handlers",
        ImportError,
        "module 'logging.handlers'",
    ),
    # Builtins that must not exist.
    *[
        case(f"builtin-{name}", f"return {name}", NameError, f"name '{name}' is not defined")
        for name in (
            "exec",
            "eval",
            "compile",
            "open",
            "type",
            "vars",
            "globals",
            "locals",
            "dir",
            "input",
            "memoryview",
            "super",
            "help",
            "exit",
        )
    ],
    # Dangerous corners of allowed modules.
    case(
        "typing-get_type_hints-no-eval",
        "import typing\nX = typing.List['undefined_xyz']\n"
        "def f(a: X):\n    pass\nhints = typing.get_type_hints(f)\n"
        "raise ValueError(repr(hints['a']))",
        ValueError,
        "ForwardRef('undefined_xyz')",
    ),
    case(
        "singledispatch-annotation-eval",
        "import functools, typing\n"
        "@functools.singledispatch\ndef f(x):\n    return 0\n"
        "Evil = typing.List['().__class__']\ndef g(x: Evil):\n    return 1\nf.register(g)",
        TypeError,
        "register the type explicitly",
    ),
    case(
        "singledispatchmethod",
        "import functools\nfunctools.singledispatchmethod(main)",
        PermissionError,
        "singledispatchmethod",
    ),
    case(
        "logging-filehandler",
        "import logging\nlogging.FileHandler('/tmp/codehook-x.log')",
        PermissionError,
        "logging.FileHandler is not available",
    ),
    case(
        "logging-streamhandler-stream",
        "import logging\n"
        "class W:\n    def write(self, t):\n        pass\nlogging.StreamHandler(W())",
        PermissionError,
        "StreamHandler(stream)",
    ),
    case(
        "logging-basicconfig-filename",
        "import logging\nlogging.basicConfig(filename='/tmp/codehook-x.log', force=True)",
        PermissionError,
        "basicConfig(filename=...)",
    ),
    case(
        "logging-basicconfig-brace-traversal",
        "import logging\nlogging.basicConfig(format='{msg.__class__}', style='{', force=True)",
        ValueError,
        "{msg.__class__}",
    ),
    case(
        "logging-formatter-brace-traversal",
        "import logging\nlogging.Formatter('{args[0]}', style='{')",
        ValueError,
        "{args[0]}",
    ),
    case(
        "logging-strformatstyle",
        "import logging\nlogging.StrFormatStyle('{msg.real}')",
        ValueError,
        "{msg.real}",
    ),
    case(
        "logging-currentframe",
        "import logging\nreturn logging.currentframe()",
        PermissionError,
        "logging.currentframe is not available",
    ),
    case(
        "hubspot-logger-file",
        "import hubspot.crm.contacts\n"
        "c = hubspot.crm.contacts.Configuration()\nc.logger_file = '/tmp/codehook-x.log'",
        AttributeError,
        '"logger_file" is not allowed',
    ),
    # Writes to modules, classes and functions.
    case("write-module-attr", "import json\njson.dumps = len", TypeError, "cannot modify a module"),
    case("write-os-shim", "import os\nos.getenv = len", TypeError, "cannot modify a module"),
    case(
        "write-library-class",
        "import requests\nrequests.Session.send = len",
        TypeError,
        "cannot modify a type",
    ),
    case(
        "setattr-library-class",
        "import requests\nsetattr(requests.Session, 'send', len)",
        TypeError,
        "cannot modify a type",
    ),
    case("write-function-attr", "main.marker = 1", TypeError, "cannot modify a function"),
    case(
        "augassign-class-attr",
        "import string\nstring.Template.delimiter += '!'",
        TypeError,
        "cannot modify a type",
    ),
    # The host environment.
    case("environ-host-path", "import os\nreturn os.environ['PATH']", KeyError, "PATH"),
]


@pytest.mark.parametrize(("body", "error", "fragment"), RUNTIME_REFUSALS)
def test_hostile_snippet_is_refused_at_run_time(
    body: str, error: type[BaseException], fragment: str
) -> None:
    """Each escape route raises its specific refusal inside the snippet."""
    with pytest.raises(error) as info:
        run(body)
    assert fragment in str(info.value)


COMPILE_REFUSALS = [
    case(
        "attr-gi_frame",
        "g = (x for x in [1])\nreturn g.gi_frame",
        SnippetCompileError,
        '"gi_frame" is a restricted name',
    ),
    case(
        "attr-dunder-class",
        "return event.__class__",
        SnippetCompileError,
        '"__class__" is an invalid attribute name',
    ),
    case(
        "name-dunder-import",
        "return __import__('os')",
        SnippetCompileError,
        '"__import__" is an invalid variable name',
    ),
    case(
        "name-dunder-builtins",
        "return __builtins__",
        SnippetCompileError,
        '"__builtins__" is an invalid variable name',
    ),
    case("exec-call", "exec('import os')", SnippetCompileError, "Exec calls are not allowed"),
    case("eval-call", "eval('1')", SnippetCompileError, "Eval calls are not allowed"),
    case(
        "try-except-star",
        "try:\n    pass\nexcept* ValueError:\n    pass",
        SnippetCompileError,
        "TryStar statements are not allowed",
    ),
    case(
        "async-def-coroutine",
        "async def f():\n    pass\nreturn f().cr_frame",
        SnippetCompileError,
        "AsyncFunctionDef statements are not allowed",
    ),
    case(
        "augassign-underscore-attr",
        "class C:\n    pass\nc = C()\nc._x += 1",
        SnippetCompileError,
        '"_x" is an invalid attribute name',
    ),
    case(
        "string-annotation",
        "def f(x: '().__class__'):\n    pass",
        SnippetCompileError,
        "string annotations are not allowed",
    ),
    case(
        "string-annotation-nested",
        "import typing\nv: typing.List['x'] = []",
        SnippetCompileError,
        "string annotations are not allowed",
    ),
    case("name-breakpoint", "breakpoint()", SnippetCompileError, '"breakpoint" is a reserved name'),
    case(
        "metaclass-keyword",
        "class C(metaclass=len):\n    pass",
        SnippetCompileError,
        '"metaclass" is not allowed',
    ),
    case(
        "random-_os-attr",
        "import random\nreturn random._os",
        SnippetCompileError,
        '"_os" is an invalid attribute name',
    ),
]


@pytest.mark.parametrize(("body", "error", "fragment"), COMPILE_REFUSALS)
def test_hostile_snippet_is_refused_at_compile_time(
    body: str, error: type[BaseException], fragment: str
) -> None:
    """Escape routes visible in the source never compile."""
    with pytest.raises(error) as info:
        run(body)
    assert fragment in " | ".join(issue.message for issue in info.value.issues)  # type: ignore[attr-defined]


def test_os_environ_shows_only_granted_secrets() -> None:
    """Nothing of the host environment is visible through the os shim."""
    seen = run(
        "import os\nreturn sorted(os.environ), os.getenv('HOME'), 'PATH' in os.environ",
        secrets={"hstoken": "pat-1"},
    )
    assert seen == (["hstoken"], None, False)


def test_has_attr_with_underscore_name_is_false() -> None:
    """hasattr() cannot probe refused attributes; it answers False."""
    assert run("return hasattr(event, '__class__'), hasattr(event, 'get')") == (False, True)


def test_module_in_container_is_guarded_on_item_access() -> None:
    """A module reached by subscription is held to the same allowlist as attributes."""
    getitem = build_globals(secrets={}, log=lambda _text: None)["_getitem_"]
    with pytest.raises(AttributeError, match="module 'sys' is not available"):
        getitem({"m": sys}, "m")
    assert repr(getitem({"m": json}, "m")) == "<module 'json' (Codehook)>"
