"""The request guard: one ASGI middleware in front of every route. It classifies the
request by the route it will reach (registry/core/routes.py), applies the rate limits, then
bounds the body: size (413, from Content-Length before reading, or as soon as the bytes
read pass the limit), JSON content type (415), the number of JSON values and their nesting
(413), all before the framework parses anything (registry/core/bounds.py)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from registry.core import bounds
from registry.core.config import Settings
from registry.core.error_handlers import error_response
from registry.core.errors import InvalidInput, RegistryError
from registry.core.ratelimit import RateLimits
from registry.core.routes import ROUTE_KEY, RouteTable


class RequestGuard:
    def __init__(
        self, app: ASGIApp, *, routes: RouteTable, limits: RateLimits, settings: Settings
    ) -> None:
        self.app = app
        self.routes = routes
        self.limits = limits
        self.depth = settings.max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            route = self.routes.classify(scope)
            scope[ROUTE_KEY] = route  # the write lane's too (registry/core/lanes.py)
            refusal = await self.limits.check(scope, route)
            if refusal is not None:
                raise refusal
            if _nul_in_url(scope):
                raise InvalidInput("NUL characters (%00) are not accepted in a URL")
            headers = {k: v for k, v in scope["headers"] if k in _BODY_HEADERS}
            length = _content_length(headers)
            chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
            limit = route.body_limit
            if length is not None and length > limit.bytes:
                raise bounds.too_large(limit.bytes)
            content_type = headers.get(b"content-type", b"").decode("latin-1") or None
            has_body = chunked or bool(length)
            json_expected = route.json_body and (has_body or content_type)
            if json_expected and not bounds.is_json_type(content_type):
                raise bounds.not_json(content_type)
            if has_body:
                body = await bounds.read_body(receive, limit.bytes)
                if route.json_body:
                    # Values first: it is cheap, and it bounds the cost of the depth scan.
                    if bounds.json_values_at_most(body) > limit.values:
                        raise bounds.too_many_values(limit.values)
                    if bounds.json_depth_exceeds(body, self.depth):
                        raise bounds.too_deep(self.depth)
                receive = bounds.replay(body, receive)
        except bounds.Disconnected:
            return
        except RegistryError as exc:
            await error_response(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)


_BODY_HEADERS = frozenset({b"content-length", b"content-type", b"transfer-encoding"})


def _nul_in_url(scope: Scope) -> bool:
    # One answer on both backends: PostgreSQL cannot compare text holding NUL, SQLite can.
    raw = scope.get("raw_path") or b""
    query = scope.get("query_string") or b""
    return "\x00" in scope["path"] or b"%00" in raw or b"%00" in query


def _content_length(headers: dict[bytes, bytes]) -> int | None:
    value = headers.get(b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def install_request_guard(
    app: FastAPI,
    *,
    settings: Settings,
    limits: RateLimits,
    body_limits: dict[tuple[str, str], bounds.BodyLimit],
) -> RouteTable:
    """Add the guard in front of every route; call after every router is included.
    `body_limits`: the routes whose limits differ from the settings' defaults."""
    default = bounds.BodyLimit(settings.max_body_bytes, settings.max_json_values)
    routes = RouteTable(app, default_body_limit=default, body_limits=body_limits)
    app.state.rate_limits = limits
    app.add_middleware(RequestGuard, routes=routes, limits=limits, settings=settings)
    return routes
