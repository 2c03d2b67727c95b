from registry.core.errors import Conflict, InvalidInput, NotFound, RegistryError


class SigningKeyNotFound(NotFound):
    pass


class KeyIdCollision(Conflict):
    """A new key's 2-byte id equals an existing key's; labels could not tell them apart."""


class ActiveKeyExists(Conflict):
    pass


class KeyRevoked(Conflict):
    pass


class LabelRunNotFound(NotFound):
    pass


class SerialNotInRun(NotFound):
    pass


class BatchHasNoGtin(InvalidInput):
    pass


class AmbiguousLabelCode(Conflict):
    """Another batch has the same GTIN and lot, so its codes could not be told apart."""


class SerialsExhausted(Conflict):
    pass


class LabelKeyUnavailable(RegistryError):
    """The stored private key does not decrypt: a server configuration problem."""

    status_code = 503


class LabelsDoNotFitLayout(InvalidInput):
    """A run's QR codes or text are too large for the sheet layout asked for."""
