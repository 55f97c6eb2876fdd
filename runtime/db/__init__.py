"""Storage: engines, models, migrations and one repository module per noun.

Repository functions take the session first and keyword-only arguments; each write
function is one transaction and commits.
"""

from runtime.db.engine import (
    begin_write,
    create_engine_for,
    create_engine_for_url,
    create_session_factory,
    describe,
)
from runtime.db.exceptions import (
    InvalidCursor,
    SnippetExists,
    SnippetNotFound,
    StorageError,
    VersionNotFound,
)
from runtime.db.migrate import Upgrade, is_up_to_date, upgrade
from runtime.db.models import ApiToken, Execution, ExecutionStatus, Snippet, SnippetVersion
from runtime.db.pagination import Page

__all__ = [
    "ApiToken",
    "Execution",
    "ExecutionStatus",
    "InvalidCursor",
    "Page",
    "Snippet",
    "SnippetExists",
    "SnippetNotFound",
    "SnippetVersion",
    "StorageError",
    "Upgrade",
    "VersionNotFound",
    "begin_write",
    "create_engine_for",
    "create_engine_for_url",
    "create_session_factory",
    "describe",
    "is_up_to_date",
    "upgrade",
]
