"""Renders every RegistryError and refused request as `{"error", "detail"}` (apart from
`errors`, so the CLI and workers raise those errors without importing FastAPI)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from registry.core.errors import RegistryError, TooManyRequests


def _body(error: str, detail: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def error_response(exc: RegistryError) -> JSONResponse:
    """The one rendering of a RegistryError (also used by middleware, outside the router)."""
    headers: dict[str, str] = {}
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(
        _body(type(exc).__name__, exc.detail), status_code=exc.status_code, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every RegistryError and validation error as `{"error", "detail"}`."""

    async def registry_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RegistryError)
        return error_response(exc)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(_body("ValidationError", _describe_validation(exc)), status_code=422)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        # The framework's own refusals (unknown route, wrong method, unparsable body) in
        # the same shape, e.g. {"error": "BadRequest", "detail": "There was an error ..."}.
        assert isinstance(exc, HTTPException)
        error = HTTPStatus(exc.status_code).phrase.title().replace(" ", "").replace("-", "")
        return JSONResponse(
            _body(error, exc.detail), status_code=exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(RegistryError, registry_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
