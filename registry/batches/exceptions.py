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


class FutureEvent(InvalidInput):
    """An event_time or harvest_date beyond the clock-drift tolerance."""


class HarvestOutsideLicence(InvalidInput):
    """A harvest dated on a day (so in a quota year) no licence of the cooperative covers."""
