from registry.core.errors import InvalidInput, NotFound


class InvalidAuditQuery(InvalidInput):
    pass


class LotNotFound(NotFound):
    pass
