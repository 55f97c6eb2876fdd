"""Errors about stored secrets and the master key; none of them ever carries a value.

SecretsError
├── InvalidSecret        a name or value the store refuses (bad name, empty, too large)
│   └── SecretTooLarge   a value over MAX_VALUE_BYTES
├── SecretNotFound       no secret with that name
├── SecretUnreadable     a stored secret fails authentication (tampered) or its key is not loaded
└── MasterKeyError       the master key is malformed, missing, or not the one the secrets use
"""

from __future__ import annotations


class SecretsError(Exception):
    pass


class InvalidSecret(SecretsError, ValueError):
    pass


class SecretTooLarge(InvalidSecret):
    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"secret values are at most {limit} bytes (UTF-8), got {size} bytes")


class SecretNotFound(SecretsError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no secret named {name!r}")


class SecretUnreadable(SecretsError):
    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        super().__init__(f"secret {name!r} cannot be decrypted: {reason}")


class MasterKeyError(SecretsError):
    pass
