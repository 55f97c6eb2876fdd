"""Secrets: encrypted at rest under the master key, decrypted only for the run they are granted to."""

from runtime.secrets.exceptions import (
    InvalidSecret,
    MasterKeyError,
    SecretNotFound,
    SecretsError,
    SecretTooLarge,
    SecretUnreadable,
)
from runtime.secrets.keys import Keyring, MasterKey, parse_key
from runtime.secrets.rotate import Rotation, rotate_key
from runtime.secrets.store import (
    MAX_VALUE_BYTES,
    NAME_PATTERN,
    SecretInfo,
    delete,
    granted,
    keyring_for,
    listing,
    missing,
    open_keyring,
    put,
    validate_name,
    validate_value,
)

__all__ = [
    "MAX_VALUE_BYTES",
    "NAME_PATTERN",
    "InvalidSecret",
    "Keyring",
    "MasterKey",
    "MasterKeyError",
    "Rotation",
    "SecretInfo",
    "SecretNotFound",
    "SecretTooLarge",
    "SecretUnreadable",
    "SecretsError",
    "delete",
    "granted",
    "keyring_for",
    "listing",
    "missing",
    "open_keyring",
    "parse_key",
    "put",
    "rotate_key",
    "validate_name",
    "validate_value",
]
