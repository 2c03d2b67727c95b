from registry.core.errors import NotFound, Unauthorized


class OrgNotFound(NotFound):
    pass


class InvalidApiKey(Unauthorized):
    pass
