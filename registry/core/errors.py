"""The error base class every domain error derives from (rendered in `error_handlers`)."""

from __future__ import annotations

from typing import ClassVar


class RegistryError(Exception):
    """A domain error with the HTTP status it maps to; the class name is the `error` field."""

    status_code: ClassVar[int] = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(RegistryError):
    status_code = 404


class Conflict(RegistryError):
    status_code = 409


class Forbidden(RegistryError):
    status_code = 403


class Unauthorized(RegistryError):
    status_code = 401


class InvalidInput(RegistryError):
    """Well-formed input that breaks a domain rule checked against stored state."""

    status_code = 422


class ContentTooLarge(RegistryError):
    """A request body over the route's size limit, or JSON nested deeper than allowed."""

    status_code = 413


class UnsupportedMediaType(RegistryError):
    """A JSON endpoint sent a body that is not declared as JSON."""

    status_code = 415


class TooManyRequests(RegistryError):
    """A rate limit was reached; `retry_after` seconds until the next request is allowed."""

    status_code = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
