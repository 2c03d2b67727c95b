"""Adds the cooperative console to the app: its routes, the session authenticator the API
uses for member cookies, and refusals on console pages rendered as pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from registry.console.api import router as members_router
from registry.console.auth import SignInRequired, authenticate_cookie
from registry.console.entry import refusal_page, signin_redirect
from registry.console.entry import router as entry_router
from registry.console.members_pages import router as members_pages_router
from registry.console.pages import router as pages_router
from registry.core.errors import RegistryError


def install(app: FastAPI) -> None:
    """Add the console's routes, and let the API accept a member's session cookie (with
    its CSRF header on unsafe methods) wherever it accepts the organization's API key."""
    app.state.session_authenticator = authenticate_cookie

    async def to_signin(request: Request, _: Exception) -> Response:
        return signin_redirect(request)

    app.add_exception_handler(SignInRequired, to_signin)
    as_json = app.exception_handlers[RegistryError]

    async def as_page(request: Request, exc: Exception) -> Response:
        # People read the console's pages: a refusal there is a page in their language.
        if request.url.path.startswith("/console/") and isinstance(exc, RegistryError):
            return refusal_page(request, exc)
        answer = as_json(request, exc)
        return answer if isinstance(answer, Response) else await answer

    app.add_exception_handler(RegistryError, as_page)
    for router in (members_router, entry_router, pages_router, members_pages_router):
        app.include_router(router)
