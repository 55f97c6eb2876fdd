"""Snippets: create, list, show, version, roll back, dry-run test and delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from runtime.api.deps import Editor, SessionDep, StateDep, Viewer, json_body
from runtime.api.errors import ApiError
from runtime.api.routes.secrets import check_grants, dangling_grants
from runtime.api.schemas import (
    SNIPPET_NAME,
    Rollback,
    SnippetCreate,
    SnippetSettings,
    SnippetUpdate,
    TestRun,
    normalize_settings,
    snippet_view,
    version_view,
)
from runtime.auth import Role
from runtime.db import Snippet, SnippetNotFound, audit
from runtime.db import snippets as store
from runtime.hooks import parse_hook_payload
from runtime.hooks.run import dry_run
from sandbox import CompileIssue

router = APIRouter(prefix="/v1/snippets", tags=["snippets"], dependencies=[Depends(json_body)])
Name = Annotated[str, Path(pattern=SNIPPET_NAME, description="the snippet's name")]


def _load(session: SessionDep, name: str) -> Snippet:
    snippet = store.get_snippet(session, name=name)
    if snippet is None:
        raise SnippetNotFound(name)
    return snippet


def _check(state: StateDep, code: str, settings: dict[str, Any]) -> None:
    """Refuse code that does not compile (every issue with line and column) and unusable settings."""
    issues: list[CompileIssue] = state.executor.check(code, wait_seconds=10)
    if issues:
        first = issues[0]
        where = "" if first.line is None else f" (line {first.line}"
        if where and first.column is not None:
            where += f", column {first.column}"
        raise ApiError(
            422,
            "compile_error",
            f"the snippet does not compile: {first.message}{where and where + ')'}"
            + (f" and {len(issues) - 1} more problem(s)" if len(issues) > 1 else ""),
            details=[issue.to_dict() for issue in issues],
        )
    caps = state.settings
    timeout, memory = settings.get("timeoutSeconds"), settings.get("memoryMb")
    is_async = settings.get("mode") == "async"
    cap = caps.max_async_timeout_seconds if is_async else caps.max_timeout_seconds
    if timeout is not None and timeout > cap:
        raise ApiError(
            422,
            "invalid",
            f"timeoutSeconds must be between 1 and {cap:g}"
            f"{' for async snippets' if is_async else ''}, got {timeout!r}",
        )
    if memory is not None and memory > caps.max_memory_mb:
        raise ApiError(
            422, "invalid", f"memoryMb must be between 8 and {caps.max_memory_mb}, got {memory!r}"
        )
    outputs = set(settings.get("outputFields") or {})
    write_back = settings.get("writeBack") or {}
    unknown = sorted(set(write_back.get("properties", {})) - outputs) if outputs else []
    if unknown:
        raise ApiError(
            422, "invalid", f"writeBack names output fields that are not declared: {unknown}"
        )
    check_grants(state, settings.get("secrets"))
    check_grants(state, [write_back["tokenSecret"]] if write_back.get("tokenSecret") else None)


def _view(state: StateDep, request: Request, snippet: Snippet, token_role: Role) -> dict[str, Any]:
    return snippet_view(
        snippet,
        hook_url=state.hook_url(request, snippet.name),
        show_token=token_role.satisfies(Role.EDITOR),
    ) | {"danglingSecrets": dangling_grants(state, snippet.current.settings.get("secrets"))}


@router.post("", status_code=201)
def create_snippet(
    body: SnippetCreate, request: Request, state: StateDep, session: SessionDep, caller: Editor
) -> dict[str, Any]:
    settings = normalize_settings(body)
    _check(state, body.code, settings)
    snippet = store.create_snippet(
        session, name=body.name, code=body.code, settings=settings, created_by=caller.name
    )
    audit.record(session, actor=caller, action="snippet.created", target=snippet.name)
    return _view(state, request, snippet, caller.role)


@router.get("")
def list_snippets(
    request: Request,
    state: StateDep,
    session: SessionDep,
    caller: Viewer,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page = store.list_snippets(session, cursor=cursor, limit=limit)
    return {
        "items": [_view(state, request, s, caller.role) for s in page.items],
        "nextCursor": page.next_cursor,
    }


@router.get("/{name}")
def show_snippet(
    name: Name, request: Request, state: StateDep, session: SessionDep, caller: Viewer
) -> dict[str, Any]:
    return _view(state, request, _load(session, name), caller.role)


@router.put("/{name}")
def update_snippet(
    name: Name,
    body: SnippetUpdate,
    request: Request,
    state: StateDep,
    session: SessionDep,
    caller: Editor,
) -> dict[str, Any]:
    """Publish a new immutable version; settings left out keep their current values."""
    snippet = _load(session, name)
    code = body.code if body.code is not None else snippet.current.code
    settings = normalize_settings(body, base=snippet.current.settings)
    _check(state, code, settings)
    version, created = store.add_version(
        session, snippet=snippet, code=code, settings=settings, created_by=caller.name
    )
    if created:
        audit.record(
            session,
            actor=caller,
            action="snippet.updated",
            target=name,
            details={"version": version.number},
        )
    return {**_view(state, request, _load(session, name), caller.role), "changed": created}


@router.post("/{name}/hook-token")
def rotate_hook_token(
    name: Name, request: Request, state: StateDep, session: SessionDep, caller: Editor
) -> dict[str, Any]:
    snippet = _load(session, name)
    store.rotate_hook_token(session, snippet=snippet)
    audit.record(session, actor=caller, action="snippet.hook_token_rotated", target=name)
    return _view(state, request, _load(session, name), caller.role)


@router.get("/{name}/versions")
def list_versions(
    name: Name,
    session: SessionDep,
    caller: Editor,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page = store.list_versions(session, snippet=_load(session, name), cursor=cursor, limit=limit)
    return {"items": [version_view(v) for v in page.items], "nextCursor": page.next_cursor}


@router.post("/{name}/rollback")
def rollback(
    name: Name,
    body: Rollback,
    request: Request,
    state: StateDep,
    session: SessionDep,
    caller: Editor,
) -> dict[str, Any]:
    """Publish a copy of an earlier version as the newest one (history stays linear)."""
    snippet = _load(session, name)
    version, created = store.rollback(
        session, snippet=snippet, to_version=body.version, created_by=caller.name
    )
    if created:
        audit.record(
            session,
            actor=caller,
            action="snippet.rolled_back",
            target=name,
            details={"version": version.number, "from": body.version},
        )
    return {**_view(state, request, _load(session, name), caller.role), "changed": created}


@router.post("/{name}/test")
def test_snippet(
    name: Name, body: TestRun, state: StateDep, session: SessionDep, caller: Editor
) -> dict[str, Any]:
    """Dry run of the published version: outputs, logs, error, cost, and the CRM write it would make."""
    snippet = _load(session, name)
    # The same parsing as a hook call, so a test event is refused where a real call would be.
    event = parse_hook_payload(body.event).event
    return dry_run(state, snippet.name, snippet.current, event)


@router.delete("/{name}", status_code=204)
def delete_snippet(name: Name, session: SessionDep, caller: Editor) -> Response:
    store.delete_snippet(session, snippet=_load(session, name))
    audit.record(session, actor=caller, action="snippet.deleted", target=name)
    return Response(status_code=204)


__all__ = ["SnippetSettings", "router"]
