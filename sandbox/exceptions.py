"""Errors the sandbox raises to its callers.

SandboxError
├── SnippetCompileError   the source does not compile under the sandbox policy
├── ExecutorUnavailable   the pre-warmed parent is gone and could not be restarted
└── ExecutorBusy          every slot stayed busy for the allowed wait (back-pressure)
"""

from __future__ import annotations

from sandbox.result import CompileIssue


class SandboxError(Exception):
    pass


class SnippetCompileError(SandboxError):
    """The snippet's source was refused at compile time; `issues` carry line and column."""

    def __init__(self, issues: list[CompileIssue]) -> None:
        self.issues = issues
        first = issues[0] if issues else CompileIssue("unknown compile error")
        where = f"line {first.line}: " if first.line else ""
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"{where}{first.message}{more}")


class ExecutorUnavailable(SandboxError):
    pass


class ExecutorBusy(SandboxError):
    """Every slot stayed busy for the whole allowed wait; retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
