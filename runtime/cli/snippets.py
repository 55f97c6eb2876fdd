"""`codehook snippets push|list`: load snippet files into a running service, and list them.

`push DIR` reads `DIR/manifest.json`, a list of snippets with their declared settings:

    {"snippets": [{"name": "variant-pick", "file": "variant_pick.py",
                   "outputFields": {"variant": "number"}, "timeoutSeconds": 5, ...}]}

and creates each snippet, or publishes a new version when it exists. The manifest is the whole
truth: a setting it leaves out is reset to the service's default, not kept from before.
Exit status: 0 when every snippet was pushed, 1 when one was refused, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from runtime.api.schemas import DEFAULT_SETTINGS

MANIFEST = "manifest.json"
DEFAULT_URL = "http://127.0.0.1:8000"
# DEFAULT_SETTINGS (the service's) are sent for every setting a manifest entry leaves out.
# Keys a manifest entry may hold besides the settings; they stay local.
_LOCAL_KEYS = {"name", "file", "events", "description"}


class UsageError(Exception):
    """A bad argument or manifest; reported on one line with exit status 2."""


class ServiceError(Exception):
    """The service could not be reached or refused the whole command; exit status 1."""


class _Refused(Exception):
    """The service refused one snippet (a compile error, an invalid setting)."""


@dataclass(frozen=True)
class Entry:
    """One manifest entry: the snippet's name, its source, and its declared settings."""

    name: str
    file: Path
    code: str
    settings: dict[str, Any]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("snippets", help="push snippet files to a service, list them")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    push = actions.add_parser(
        "push",
        help="create or update the snippets listed in DIR/manifest.json",
        description="Create each snippet of DIR/manifest.json, or publish a new version of it.",
    )
    push.add_argument("dir", metavar="DIR", help="a folder with manifest.json and snippet files")
    push.add_argument("--only", metavar="NAME", action="append", help="push only this snippet")
    _connection_arguments(push)
    push.set_defaults(handler=_push)

    listing = actions.add_parser("list", help="list the service's snippets and their hook URLs")
    _connection_arguments(listing)
    listing.set_defaults(handler=_list)


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("CODEHOOK_URL", DEFAULT_URL),
        help=f"the service's base URL (default: $CODEHOOK_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("CODEHOOK_TOKEN"),
        help="an editor API token (default: $CODEHOOK_TOKEN)",
    )


def load_manifest(folder: Path) -> list[Entry]:
    """The manifest's entries with their code read; UsageError naming the first problem."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no {MANIFEST} in {str(folder)!r}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {str(path)!r}: {exc}") from None
    items = data.get("snippets") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise UsageError(f"{str(path)!r} must hold an object with a 'snippets' list")
    entries = [_entry(folder, index, item) for index, item in enumerate(items)]
    names = [entry.name for entry in entries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"{MANIFEST} names these snippets more than once: {duplicates}")
    return entries


def _entry(folder: Path, index: int, item: Any) -> Entry:
    where = f"{MANIFEST} snippets[{index}]"
    if not isinstance(item, dict):
        raise UsageError(f"{where} must be an object, got {type(item).__name__}")
    name, file = item.get("name"), item.get("file")
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where} needs a 'name'")
    if not isinstance(file, str) or not file:
        raise UsageError(f"{where} ({name}) needs a 'file'")
    unknown = sorted(set(item) - _LOCAL_KEYS - set(DEFAULT_SETTINGS))
    if unknown:
        raise UsageError(
            f"{where} ({name}) has unknown keys {unknown}; settings are {sorted(DEFAULT_SETTINGS)}"
        )
    source = folder / file
    try:
        code = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where} ({name}): cannot read {str(source)!r}: {exc}") from None
    settings = {key: item.get(key, default) for key, default in DEFAULT_SETTINGS.items()}
    return Entry(name=name, file=source, code=code, settings=settings)


def push(client: httpx.Client, entry: Entry) -> tuple[str, dict[str, Any]]:
    """Create or update one snippet: ("created" | "updated" | "unchanged", the snippet's view)."""
    current = client.get(f"/v1/snippets/{entry.name}")
    if current.status_code == 404:
        response = client.post(
            "/v1/snippets", json={"name": entry.name, "code": entry.code, **entry.settings}
        )
        outcome = "created"
    else:
        _raise_for_access(current)
        response = client.put(
            f"/v1/snippets/{entry.name}", json={"code": entry.code, **entry.settings}
        )
        outcome = "updated"
    _raise_for_access(response)
    body: dict[str, Any] = response.json()
    if response.status_code >= 400:
        raise _Refused(_describe_error(body, response.status_code))
    if outcome == "updated" and body.get("changed") is False:
        outcome = "unchanged"
    return outcome, body


def _push(args: argparse.Namespace) -> int:
    try:
        entries = load_manifest(Path(args.dir))
        if args.only:
            missing = sorted(set(args.only) - {entry.name for entry in entries})
            if missing:
                raise UsageError(f"--only names snippets not in the manifest: {missing}")
            entries = [entry for entry in entries if entry.name in args.only]
        client = _client(args)
    except UsageError as exc:
        print(f"codehook snippets push: {exc}", file=sys.stderr)
        return 2
    failed = 0
    with client:
        for entry in entries:
            try:
                outcome, view = push(client, entry)
            except _Refused as exc:
                failed += 1
                print(f"✘ {entry.name}: refused: {exc}", file=sys.stderr)
                continue
            except (ServiceError, httpx.HTTPError) as exc:
                print(f"codehook snippets push: {_unreachable(args.url, exc)}", file=sys.stderr)
                return 1
            print(f"{outcome:<9} {entry.name} v{view.get('version')}  hook: {view.get('hookUrl')}")
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    try:
        client = _client(args)
    except UsageError as exc:
        print(f"codehook snippets list: {exc}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    try:
        with client:
            cursor: str | None = None
            while True:
                params: dict[str, str | int] = {"limit": 200}
                if cursor:
                    params["cursor"] = cursor
                response = client.get("/v1/snippets", params=params)
                _raise_for_access(response)
                page = response.json()
                rows.extend(page.get("items") or [])
                cursor = page.get("nextCursor")
                if not cursor:
                    break
    except (ServiceError, httpx.HTTPError) as exc:
        print(f"codehook snippets list: {_unreachable(args.url, exc)}", file=sys.stderr)
        return 1
    width = max((len(str(row.get("name"))) for row in rows), default=4)
    print(f"{'NAME':<{width}}  {'VERSION':>7}  {'MODE':<5}  HOOK URL")
    for row in rows:
        print(
            f"{row.get('name')!s:<{width}}  {row.get('version')!s:>7}  "
            f"{row.get('mode') or 'sync':<5}  {row.get('hookUrl')}"
        )
    return 0


def _client(args: argparse.Namespace) -> httpx.Client:
    if not args.token:
        raise UsageError("an API token is needed: pass --token or set CODEHOOK_TOKEN")
    url = str(args.url).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must start with http:// or https://, got {args.url!r}")
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {args.token}"}, timeout=30)


def _raise_for_access(response: httpx.Response) -> None:
    """ServiceError for answers that concern the whole command, not one snippet."""
    if response.status_code in (401, 403):
        raise ServiceError(
            f"the service refused the token ({response.status_code}): "
            f"{_describe_error(_json(response), response.status_code)}"
        )
    if response.status_code >= 500 or not _json(response):
        raise ServiceError(f"the service answered HTTP {response.status_code}")


def _describe_error(body: Any, status: int) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"HTTP {status}"
    message = str(error.get("message") or error.get("code") or f"HTTP {status}")
    details = error.get("details")
    if isinstance(details, list) and len(details) > 1:
        lines = [
            f"line {d.get('line')}: {d.get('message')}"
            for d in details
            if isinstance(d, dict) and d.get("line") is not None
        ]
        message += "".join(f"\n    {line}" for line in lines)
    return message


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _unreachable(url: str, exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPError):
        return f"cannot reach the service at {url}: {exc}"
    return str(exc)
