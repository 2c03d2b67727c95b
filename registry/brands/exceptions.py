from registry.core.errors import Conflict, Forbidden, NotFound


class BrandNotFound(NotFound):
    pass


class LicenseNotFound(NotFound):
    pass


class BrandExists(Conflict):
    pass


class NotBrandOwner(Forbidden):
    pass


class NoValidLicense(Forbidden):
    pass
