from registry.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized


class MemberNotFound(NotFound):
    pass


class UsernameTaken(Conflict):
    pass


class WeakPassword(InvalidInput):
    pass


class NotMemberAdmin(Forbidden):
    pass


class SessionExpired(Unauthorized):
    """The session cookie names no live session (signed out, revoked, expired, disabled)."""


class CsrfRejected(Forbidden):
    """A cookie-authenticated unsafe request without the session's CSRF token."""


class TooManySignIns(Exception):
    """Too many failed sign-ins for a username or from an address; retry after a while."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry in {retry_after} s")
        self.retry_after = retry_after
