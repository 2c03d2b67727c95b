from registry.core.errors import Conflict, NotFound


class JobNotFound(NotFound):
    """No such job, or it belongs to another organization (the two are not told apart)."""


class JobResultNotReady(Conflict):
    pass


class JobResultGone(NotFound):
    """The job finished, but its result file is missing (expired or deleted)."""
