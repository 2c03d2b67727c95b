"""Errors of the transparency log, each with its HTTP status."""

from __future__ import annotations

from registry.core.errors import Conflict, InvalidInput, NotFound, RegistryError


class NoCheckpoint(NotFound):
    """No checkpoint has been published yet."""


class LogKeyMissing(NotFound):
    """The log has no signing key yet."""


class LogKeyExists(Conflict):
    """A log key is already active."""


class TreeSizeUnavailable(NotFound):
    """A tree size or leaf beyond what the log holds."""


class LogRangeInvalid(InvalidInput):
    """A proof or entry range that cannot exist (e.g. start after end)."""


class LogInconsistent(RegistryError):
    """The stored tree does not match itself or the previous checkpoint: refuse to sign."""

    status_code = 500


class LogKeyUnavailable(RegistryError):
    """The log's private key cannot be decrypted with the configured passphrase."""

    status_code = 503
