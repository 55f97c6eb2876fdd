"""Errors the storage layer raises to its callers.

StorageError
├── InvalidCursor       a pagination cursor that this layer did not hand out
├── SnippetExists       a live snippet already has that name
├── SnippetNotFound     the snippet was deleted (or never existed)
└── VersionNotFound     the snippet has no version with that number
"""

from __future__ import annotations


class StorageError(Exception):
    pass


class InvalidCursor(StorageError, ValueError):
    def __init__(self, cursor: str) -> None:
        self.cursor = cursor
        super().__init__(f"not a valid cursor: {cursor!r}")


class SnippetExists(StorageError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a snippet named {name!r} already exists")


class SnippetNotFound(StorageError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no snippet named {name!r}")


class VersionNotFound(StorageError):
    def __init__(self, name: str, number: int) -> None:
        self.name = name
        self.number = number
        super().__init__(f"snippet {name!r} has no version {number!r}")
