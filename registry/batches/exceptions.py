from registry.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class BatchNotFound(NotFound):
    pass


class BatchExists(Conflict):
    pass


class NotCustodian(Forbidden):
    pass


class MassBalanceExceeded(Conflict):
    pass


class QuotaExceeded(Conflict):
    pass


class IdempotencyKeyReused(Conflict):
    pass


class OutsideProductionArea(InvalidInput):
    pass


class InvalidCorrection(InvalidInput):
    pass
