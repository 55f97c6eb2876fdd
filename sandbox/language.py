"""The language layer of the sandbox: compile a snippet under policy, run its `main(event)`.

Everything here runs inside the sandbox child; the process layer supplies the limits.
"""

from __future__ import annotations

import ast
import random
import re
import types
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sandbox import _guards
from sandbox._modules import make_importer
from sandbox._policy import SnippetPolicy
from sandbox._shims import OsShim, PrintCollector, install_logging_capture, print_factory
from sandbox.exceptions import SnippetCompileError
from sandbox.result import CompileIssue, ErrorInfo

__all__ = [
    "FILENAME",
    "MAX_SOURCE_BYTES",
    "build_globals",
    "call_main",
    "compile_snippet",
    "describe_error",
]

FILENAME = "<snippet>"
MAX_SOURCE_BYTES = 256 * 1024

_POLICY_ERROR = re.compile(r"Line (\d+|None)(?::(\d+|None))?: (.*)", re.DOTALL)


def compile_snippet(source: str) -> types.CodeType:
    """Compile `source` under the snippet policy; SnippetCompileError lists every problem."""
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise SnippetCompileError(
            [CompileIssue(f"source is {size} bytes; the limit is {MAX_SOURCE_BYTES} bytes")]
        )
    with warnings.catch_warnings():
        # CPython's SyntaxWarnings (e.g. `is` with a literal) would go to the child's stderr.
        warnings.simplefilter("ignore")
        try:
            tree = ast.parse(source, filename=FILENAME, mode="exec")
            missing_main = not any(
                isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body
            )
            errors: list[str] = []
            SnippetPolicy(errors, [], {}).visit(tree)
            # RestrictedPython's compile_restricted does these same two steps, but its compile()
            # inherits `from __future__ import annotations` from its own module, which would turn
            # every annotation into an unevaluated string; dont_inherit keeps them ordinary.
            code = None if errors else compile(tree, FILENAME, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise SnippetCompileError([_syntax_issue(exc)]) from None
        except ValueError as exc:  # null bytes in the source
            raise SnippetCompileError([CompileIssue(str(exc))]) from None
        except (RecursionError, MemoryError):
            raise SnippetCompileError(
                [CompileIssue("source is nested too deeply to compile")]
            ) from None
    issues = sorted(
        (_policy_issue(error) for error in errors),
        key=lambda issue: (issue.line or 0, issue.column or 0),
    )
    if missing_main:
        issues.append(CompileIssue("snippet defines no top-level `def main(event)`"))
    if issues or code is None:
        raise SnippetCompileError(issues or [CompileIssue("source did not compile")])
    return code


def _syntax_issue(exc: SyntaxError) -> CompileIssue:
    column = exc.offset - 1 if exc.offset else None
    return CompileIssue(f"{type(exc).__name__}: {exc.msg}", exc.lineno, column)


def _policy_issue(error: str) -> CompileIssue:
    match = _POLICY_ERROR.fullmatch(error)
    if match is None:
        return CompileIssue(error)
    line, column, message = match.groups()
    return CompileIssue(
        message,
        int(line) if line and line != "None" else None,
        int(column) if column and column != "None" else None,
    )


def build_globals(*, secrets: Mapping[str, str], log: Callable[[str], None]) -> dict[str, Any]:
    """The restricted globals for one execution: guards, safe builtins, `os` shim, log capture."""
    snippet_classes: weakref.WeakSet[type] = weakref.WeakSet()
    write = _guards.make_write_guard(snippet_classes)
    safe_builtins = _guards.make_builtins(importer=make_importer(OsShim(secrets)), write=write)
    safe_builtins["print"] = PrintCollector(log, _guards.guarded_getattr).print
    install_logging_capture(log)
    # Every execution picks fresh random numbers, even in a child forked from a seeded parent.
    random.seed()
    return {
        "__builtins__": safe_builtins,
        "__name__": "snippet",
        "__metaclass__": _guards.SnippetClassFactory(snippet_classes),
        "_getattr_": _guards.guarded_getattr,
        "_getitem_": _guards.guarded_getitem,
        "_getiter_": iter,
        "_iter_unpack_sequence_": _guards.guarded_iter_unpack_sequence,
        "_unpack_sequence_": _guards.guarded_unpack_sequence,
        "_write_": write,
        "_print_": print_factory(log, _guards.guarded_getattr),
        "_apply_": _guards.apply,
        "_inplacevar_": _guards.inplacevar,
    }


def call_main(code: types.CodeType, event: dict[str, Any], globals_: dict[str, Any]) -> Any:
    """Run the snippet's module code in `globals_`, then return `main(event)` as it is."""
    exec(code, globals_)  # noqa: S102 - code comes from compile_snippet, globals are restricted
    main = globals_.get("main")
    if not callable(main):
        raise NameError("snippet defines no main(event)")
    return main(event)


def describe_error(exc: BaseException, source: str) -> ErrorInfo:
    """An ErrorInfo whose line and traceback show only the snippet's own frames and source."""
    lines = source.splitlines()
    frames = [
        (tb.tb_lineno, tb.tb_frame.f_code.co_name)
        for tb in _walk(exc.__traceback__)
        if tb.tb_frame.f_code.co_filename == FILENAME
    ]
    try:
        message = str(exc)
    except Exception:
        message = "<exception message could not be rendered>"
    kind = type(exc).__name__
    text = []
    if frames:
        text.append("Traceback (most recent call last):\n")
    for lineno, name in frames:
        text.append(f'  File "{FILENAME}", line {lineno}, in {name}\n')
        if lineno is not None and 0 < lineno <= len(lines) and lines[lineno - 1].strip():
            text.append(f"    {lines[lineno - 1].strip()}\n")
    text.append(f"{kind}: {message}" if message else kind)
    line = frames[-1][0] if frames else None
    return ErrorInfo(type=kind, message=message, line=line, traceback="".join(text))


def _walk(tb: types.TracebackType | None) -> Iterator[types.TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next
