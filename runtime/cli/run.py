"""`codehook run FILE`: run one snippet locally in the sandbox, under the server's limits.

Exit status: 0 when the snippet succeeded, 1 when the execution did not, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from runtime.config import Settings
from sandbox import (
    CompileIssue,
    ExecutionResult,
    Executor,
    Limits,
    SandboxError,
    SnippetCompileError,
)
from sandbox.outputs import OutputSpec, parse_output_fields, spec_to_dict

_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_HOST = re.compile(r"(?:\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?")

_EPILOG = """\
inputs are strings, as HubSpot sends CRM property values; they override or add to the
event's inputFields. --secret NAME without a value takes it from the environment variable
NAME. --output TYPE is one of string, number, bool, datetime, date, phone_number, or
enumeration:OPTION,OPTION,...

exit status: 0 success, 1 the execution did not succeed, 2 usage error"""


class UsageError(Exception):
    """A bad argument or file; reported on one line with exit status 2."""


@dataclass(frozen=True)
class _Request:
    code: str
    event: dict[str, Any]
    secrets: dict[str, str]
    limits: Limits
    specs: dict[str, OutputSpec]
    egress: dict[str, Any]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a snippet locally in the sandbox and print its outputs and logs",
        description="Run a snippet's main(event) locally in the sandbox, with the server's limits.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="the snippet's Python source")
    parser.add_argument("--event", metavar="EVENT.json", help="the event as JSON ('-' for stdin)")
    parser.add_argument(
        "--input", metavar="NAME=VALUE", action="append", default=[], help="an input field"
    )
    parser.add_argument(
        "--secret", metavar="NAME=VALUE", action="append", default=[], help="a granted secret"
    )
    parser.add_argument(
        "--output", metavar="NAME=TYPE", action="append", default=[], help="a declared output"
    )
    parser.add_argument("--timeout", metavar="S", type=float, help="wall-time limit in seconds")
    parser.add_argument("--memory", metavar="MB", type=int, help="memory limit in MB")
    parser.add_argument(
        "--allow-host",
        metavar="HOST",
        action="append",
        default=[],
        help="a host the snippet may call (repeat; default: any public host)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        request = _prepare(args, _read_settings())
    except UsageError as exc:
        print(f"codehook run: {exc}", file=sys.stderr)
        return 2
    try:
        with Executor() as executor:
            result = executor.run(
                request.code,
                request.event,
                secrets=request.secrets,
                limits=request.limits,
                output_types=spec_to_dict(request.specs) or None,
                egress=request.egress,
            )
            # A compile error reports its first problem; list them all, with their lines.
            compile_error = result.error is not None and result.error.type == "CompileError"
            issues = executor.check(request.code) if compile_error and not args.json else []
    except SnippetCompileError as exc:
        print(f"codehook run: {args.file} does not compile: {exc}", file=sys.stderr)
        return 1
    except SandboxError as exc:
        print(f"codehook run: the sandbox failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("codehook run: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        _print_human(result, sys.stdout, issues)
    return 0 if result.ok else 1


def _read_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "CODEHOOK_" + "_".join(str(part) for part in first["loc"]).upper()
        raise UsageError(f"invalid setting {name}: {first['msg']}") from None
    except ValueError as exc:  # pydantic-settings' SettingsError: a value that is not JSON
        raise UsageError(f"invalid setting: {exc}") from None


def _prepare(args: argparse.Namespace, settings: Settings) -> _Request:
    return _Request(
        code=_read_snippet(Path(args.file)),
        event=_build_event(args.event, _pairs("--input", args.input)),
        secrets=_secrets(args.secret),
        limits=_limits(args.timeout, args.memory, settings),
        specs=_output_specs(args.output),
        egress={
            "allowed_hosts": [_host(host) for host in args.allow_host] or None,
            "overrides": dict(settings.egress_overrides),
        },
    )


def _read_snippet(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"snippet file not found: {str(path)!r}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"snippet file {str(path)!r} is not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise UsageError(f"cannot read snippet file {str(path)!r}: {exc.strerror}") from None


def _build_event(path: str | None, inputs: dict[str, str]) -> dict[str, Any]:
    if path is None:
        event: dict[str, Any] = {
            "inputFields": {},
            "object": {"objectId": 1, "objectType": "CONTACT"},
            "origin": {"portalId": 0, "actionDefinitionId": 0},
            "callbackId": f"local-{uuid.uuid4()}",
        }
    else:
        event = _read_event(path)
    fields = event.setdefault("inputFields", {})
    if not isinstance(fields, dict):
        raise UsageError(
            f"--event {path!r}: inputFields must be an object, got {type(fields).__name__}"
        )
    fields.update(inputs)
    return event


def _read_event(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"event file not found: {path!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read event file {path!r}: {exc}") from None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--event {path!r} is not valid JSON: {exc}") from None
    if not isinstance(event, dict):
        raise UsageError(f"--event {path!r} must hold a JSON object, got {type(event).__name__}")
    return event


def _pairs(option: str, items: Sequence[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"{option} expects NAME=VALUE, got {item!r}")
        if not name.strip():
            raise UsageError(f"{option} has an empty name in {item!r}")
        pairs[name.strip()] = value
    return pairs


def _secrets(items: Sequence[str]) -> dict[str, str]:
    # Never quote anything but the name: the rest of the argument may be the secret itself.
    secrets: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not _SECRET_NAME.fullmatch(name):
            if not sep:
                raise UsageError(
                    "--secret expects NAME=VALUE or NAME (taken from the environment); "
                    "got an argument that is neither (not shown: it may be a secret value)"
                )
            raise UsageError(
                f"--secret name must match [A-Za-z_][A-Za-z0-9_]{{0,63}}, got {name!r}"
            )
        if not sep:
            if name not in os.environ:
                raise UsageError(f"--secret {name}: no value given and ${name} is not set")
            value = os.environ[name]
        secrets[name] = value
    return secrets


def _limits(timeout: float | None, memory: int | None, settings: Settings) -> Limits:
    # The same caps as the server, so a snippet that runs here runs there.
    if timeout is not None and not 0 < timeout <= settings.max_timeout_seconds:
        raise UsageError(
            f"--timeout must be more than 0 and at most {settings.max_timeout_seconds:g} "
            f"(CODEHOOK_MAX_TIMEOUT_SECONDS), got {timeout:g}"
        )
    if memory is not None and not 8 <= memory <= settings.max_memory_mb:
        raise UsageError(
            f"--memory must be between 8 and {settings.max_memory_mb} "
            f"(CODEHOOK_MAX_MEMORY_MB), got {memory}"
        )
    try:
        return Limits(
            timeout_seconds=settings.default_timeout_seconds if timeout is None else timeout,
            memory_mb=settings.default_memory_mb if memory is None else memory,
            log_bytes=settings.log_bytes,
            output_bytes=settings.output_bytes,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _output_specs(items: Sequence[str]) -> dict[str, OutputSpec]:
    decl: dict[str, Any] = {}
    for name, type_ in _pairs("--output", items).items():
        kind, sep, options = type_.partition(":")
        decl[name] = {"type": kind, "options": options.split(",")} if sep else type_
    try:
        return parse_output_fields(decl)
    except ValueError as exc:
        raise UsageError(f"--output: {exc}") from None


def _host(value: str) -> str:
    host = value.strip().lower()
    if not _HOST.fullmatch(host):
        raise UsageError(f"--allow-host expects a host name like api.example.com, got {value!r}")
    return host


def _print_human(result: ExecutionResult, out: TextIO, issues: Sequence[CompileIssue] = ()) -> None:
    ok_mark, fail_mark = _marks(out)
    status = result.status.value.replace("_", " ")
    cost = f"{_duration(result.duration_ms)}, {result.memory_kb / 1024:.1f} MB"
    print(f"{ok_mark if result.ok else fail_mark} {status} in {cost}", file=out)
    if result.rate_limited:
        retry = result.retry_after_seconds
        print(f"  rate-limited by the CRM{f'; retry after {retry:g} s' if retry else ''}", file=out)
    print("\noutputs", file=out)
    fields = result.output_fields or {}
    width = max((len(name) for name in fields), default=0)
    for name, value in fields.items():
        print(f"  {name:<{width}} = {json.dumps(value, ensure_ascii=False)}", file=out)
    if not fields:
        print("  (none)", file=out)
    if result.logs:
        print("\nlogs", file=out)
        print(_indent(result.logs), file=out)
    if result.error is not None:
        error = result.error
        where = f" (line {error.line})" if error.line else ""
        print(f"\nerror{where}", file=out)
        # A traceback already ends with "Type: message".
        print(_indent(error.traceback or f"{error.type}: {error.message}"), file=out)
        if len(issues) > 1:
            print("  every problem found:", file=out)
            for issue in issues:
                print(f"    {_position(issue)}{issue.message}", file=out)
    for warning in result.extra.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)


def _position(issue: CompileIssue) -> str:
    if issue.line is None:
        return ""
    column = f", column {issue.column + 1}" if issue.column is not None else ""
    return f"line {issue.line}{column}: "


def _duration(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.rstrip("\n").splitlines())


def _marks(out: TextIO) -> tuple[str, str]:
    try:
        "✔✘".encode(out.encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return "OK", "FAILED"
    return "✔", "✘"
