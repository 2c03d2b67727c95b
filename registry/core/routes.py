"""What a request is, judged from the route it will reach, before the router runs: whether
it needs an API key, whether it carries JSON, how large its body may be and which rate
limit it counts against. Read from the app's routes, so routes added later are covered
without being listed anywhere.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import fastapi.routing
from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, compile_path
from starlette.types import Scope

from registry.core.auth import Writer, current_org
from registry.core.bounds import BodyLimit

RouteKind = Literal["exempt", "public", "read", "write"]
ROUTE_KEY = "registry.route"  # where the guard leaves a request's RouteInfo in its scope
_CONVERTOR = re.compile(r":[a-z]+}")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_IN_THREAD = "__registry_works_in_thread__"
Endpoint = TypeVar("Endpoint")


def works_in_thread(endpoint: Endpoint) -> Endpoint:
    """Marks a coroutine endpoint that awaits its work in a worker thread, under a limiter of
    its own: it takes no read turn on the loop (registry/core/lanes.py), since holding one
    while its thread works would idle the loop and hold back the scans waiting for it."""
    setattr(endpoint, _IN_THREAD, True)
    return endpoint


@dataclass(frozen=True)
class RouteInfo:
    """`kind`: exempt (operations and docs), public (no key needed, or no route matched),
    read or write (an API key is needed). `on_loop`: the handler is a coroutine, so its
    work runs on the event loop (a sync handler's, or one marked `works_in_thread`, runs in
    a worker thread)."""

    path: str
    kind: RouteKind
    needs_key: bool
    json_body: bool
    body_limit: BodyLimit
    on_loop: bool = False


def needs_api_key(dependant: Dependant) -> bool:
    """True when the route (or any dependency of it) authenticates the caller's API key."""
    if dependant.call is current_org or isinstance(dependant.call, Writer):
        return True
    return any(needs_api_key(sub) for sub in dependant.dependencies)


def has_json_body(route: APIRoute) -> bool:
    field = route.body_field
    return field is not None and not isinstance(field.field_info, params.Form)


def is_exempt(route: BaseRoute, app: FastAPI) -> bool:
    """Health, readiness, metrics (tagged `ops`), the OpenAPI document and its pages."""
    if isinstance(route, APIRoute):
        return "ops" in (route.tags or [])
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    return getattr(route, "path", None) in docs


@dataclass(frozen=True)
class FlatRoute:
    """One endpoint with its full path (router prefixes included) and its own route."""

    route: BaseRoute
    path: str
    methods: frozenset[str] | None
    regex: re.Pattern[str]
    dependant: Dependant | None


def flat_routes(app: FastAPI) -> list[FlatRoute]:
    """Every endpoint of the app. FastAPI includes routers lazily since 0.16x (its
    `iter_route_contexts` flattens them); before that `app.routes` was already flat."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    contexts: list[Any] = list(iterate(app.routes)) if iterate else list(app.routes)
    flat = []
    for ctx in contexts:
        route = getattr(ctx, "original_route", ctx)
        path = getattr(ctx, "path", None)
        if path is None:
            continue
        methods = getattr(ctx, "methods", None)
        dependant = getattr(ctx, "dependant", None) or getattr(route, "dependant", None)
        flat.append(
            FlatRoute(
                route,
                path,
                frozenset(methods) if methods else None,
                compile_path(path)[0],
                dependant,
            )
        )
    return flat


class RouteTable:
    """Classifies requests by the route they match. `body_limits` maps `(METHOD, path
    template)` to a route's own body limit; others get `default_body_limit`."""

    def __init__(
        self,
        app: FastAPI,
        *,
        default_body_limit: BodyLimit,
        body_limits: dict[tuple[str, str], BodyLimit],
    ) -> None:
        self._app = app
        self._default = default_body_limit
        self._limits = body_limits
        self._unmatched = RouteInfo("", "public", False, False, default_body_limit)
        self._known: dict[tuple[int, str], RouteInfo] = {}
        self._routes: list[FlatRoute] | None = None

    def _info(self, route: FlatRoute, method: str) -> RouteInfo:
        key = (id(route), method)
        info = self._known.get(key)
        if info is None:
            info = self._known[key] = self._judge(route, method)
        return info

    def _judge(self, flat: FlatRoute, method: str) -> RouteInfo:
        route, path = flat.route, flat.path
        limit = self._limits.get((method, path), self._default)
        if is_exempt(route, self._app) or (isinstance(route, Mount) and method in READ_METHODS):
            return RouteInfo(path, "exempt", False, False, limit)
        if not isinstance(route, APIRoute):
            return RouteInfo(path, "public", False, False, limit)
        if "console" in (route.tags or []):
            # A signed-in member's pages (and the service worker prefetching its forms) are
            # not page loads of the public; the console's forms count as writes.
            kind: RouteKind = "exempt" if method in READ_METHODS else "write"
            return RouteInfo(path, kind, False, has_json_body(route), limit)
        keyed = flat.dependant is not None and needs_api_key(flat.dependant)
        kind = ("read" if method in READ_METHODS else "write") if keyed else "public"
        endpoint = route.endpoint
        on_loop = inspect.iscoroutinefunction(endpoint) and not getattr(endpoint, _IN_THREAD, False)
        return RouteInfo(path, kind, keyed, has_json_body(route), limit, on_loop)

    def _flat(self) -> list[FlatRoute]:
        if self._routes is None:
            self._routes = flat_routes(self._app)
        return self._routes

    def describe(self, method: str, path: str) -> RouteInfo | None:
        """The route of an OpenAPI operation (`path` as the document writes it)."""
        for flat in self._flat():
            if _CONVERTOR.sub("}", flat.path) == path and (
                flat.methods is None or method in flat.methods
            ):
                return self._info(flat, method)
        return None

    def classify(self, scope: Scope) -> RouteInfo:
        known = scope.get(ROUTE_KEY)
        if isinstance(known, RouteInfo):
            return known
        method = scope["method"]
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        partial: FlatRoute | None = None
        for flat in self._flat():
            if not flat.regex.match(path):
                continue
            if flat.methods is None or method in flat.methods:
                return self._info(flat, method)
            if partial is None:
                partial = flat
        # A known path with another method (405) is judged like that path's route.
        return self._info(partial, method) if partial is not None else self._unmatched
