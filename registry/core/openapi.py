"""The OpenAPI document, completed in one place from what each route is (see
registry/core/routes.py): bearer authentication where an API key is needed, and every
error status the operation can answer, each with the one error body `{"error", "detail"}`.
Routes added later are described by the same rules without being listed here."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from registry.core.routes import RouteInfo, RouteTable

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "the error's class, e.g. BatchNotFound"},
        "detail": {"type": "string", "description": "what was wrong, for a person to read"},
    },
}
BEARER = "bearerAuth"
_WHY = {
    400: "the body could not be read as JSON text",
    401: "no API key, or one that is invalid or revoked",
    403: "the API key's organization may not do this",
    404: "a resource named in the path does not exist (or is not visible to the caller)",
    409: "the request conflicts with the current state (numbers in the detail)",
    413: "the body is over the endpoint's limit of bytes, JSON values or nesting",
    415: "the body is not sent as Content-Type: application/json",
    422: "the input is invalid (the detail names the field)",
    429: "a rate limit was reached; retry after Retry-After seconds",
    503: "the database (or Redis) is busy or unreachable; retry",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {
        "Retry-After": {
            "description": "seconds until the request may be retried",
            "schema": {"type": "integer"},
        }
    },
}
_READS = {"get", "head", "options"}


def error_statuses(info: RouteInfo, method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what its route is."""
    statuses = {422}  # any URL holding a NUL, besides the validation of parameters
    if info.kind != "exempt":
        statuses |= {429, 503}
    if info.json_body:
        statuses |= {400, 413, 415}
    elif method not in _READS:
        statuses.add(413)
    if info.needs_key:
        statuses |= {401, 403}
        if method not in _READS:
            statuses.add(409)
    names_resources = info.needs_key and (
        "requestBody" in operation
        or any(p.get("in") == "query" for p in operation.get("parameters", []))
    )
    if "{" in path or names_resources:  # in the path, or an id in the body or query
        statuses.add(404)
    return statuses


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": f"{HTTPStatus(status).phrase}: {_WHY[status]}",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def complete(schema: dict[str, Any], table: RouteTable) -> dict[str, Any]:
    """Add the security scheme, the error body and each operation's errors to `schema`."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = {
        BEARER: {"type": "http", "scheme": "bearer", "description": "an API key (ork_...)"}
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            info = table.describe(method.upper(), path)
            if info is None:
                continue
            responses = operation.setdefault("responses", {})
            declared_errors = {int(s) for s in responses if s.isdigit() and int(s) in _WHY}
            for status in sorted(error_statuses(info, method, path, operation) | declared_errors):
                declared = responses.get(str(status), {})
                responses[str(status)] = {**declared, **_error_response(status)}
            if info.needs_key:
                operation["security"] = [{BEARER: []}]
            elif info.kind == "public":
                # Optional: a platform's key raises the caller's rate limit.
                operation["security"] = [{}, {BEARER: []}]
    for unused in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(unused, None)
    return schema


def install_openapi(app: FastAPI, table: RouteTable) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(schema, table)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
