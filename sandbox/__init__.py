"""Runs HubSpot-style Python snippets in isolated, limited processes.

Knows nothing of HTTP, the database or the CRM: callers pass plain arguments.
"""

from sandbox.exceptions import ExecutorBusy, ExecutorUnavailable, SandboxError, SnippetCompileError
from sandbox.executor import Executor
from sandbox.limits import Limits
from sandbox.redact import Redactor
from sandbox.result import CompileIssue, ErrorInfo, ExecutionResult, ExecutionStatus

__all__ = [
    "CompileIssue",
    "ErrorInfo",
    "ExecutionResult",
    "ExecutionStatus",
    "Executor",
    "ExecutorBusy",
    "ExecutorUnavailable",
    "Limits",
    "Redactor",
    "SandboxError",
    "SnippetCompileError",
]
