"""The label URL a phone opens: `GET /01/{gtin}/10/{lot}/21/{serial}?8030=...`, answered as
the consumer page (HTML) or, with `Accept: application/json` / `?format=json`, the JSON
verdict. Each request is a consumer scan: its device is identified here (cookie, else a
keyed hash of network and user agent), located (the URL's or the page's shared position,
else GeoIP), and counted by the verifier before it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from registry.core.clients import UNKNOWN, client_address
from registry.core.config import Settings
from registry.core.error_handlers import error_response
from registry.core.errors import RegistryError
from registry.core.routes import ROUTE_KEY
from registry.core.time import utcnow
from registry.scans.devices import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE,
    identify,
)
from registry.scans.geo import GeoIP, geoip_for, locate, shared_place
from registry.verify.schemas import VerifyResult
from registry.verify.service import Verifier
from registry.web.pages import verification_page

router = APIRouter(tags=["verify"])
LABEL_PATH = "/01/{gtin}/10/{lot}/21/{serial}"
ODD_PATH = "/01/{rest:path}"
_LABEL_PATHS = frozenset({LABEL_PATH, ODD_PATH})
_READS = frozenset({"GET", "HEAD"})
_JSON_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"vary", b"Accept, Cookie"),
    (b"content-type", b"application/json"),
]


class _JsonAnswer(Response):
    """The JSON verdict with its headers written once here, not worked out per answer
    from a mapping as `Response` does (the answer is sent as `Response` sends it)."""

    media_type = "application/json"

    def __init__(self, body: bytes) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [*_JSON_HEADERS, (b"content-length", b"%d" % len(body))]


@dataclass(frozen=True)
class ScanClients:
    """How this process tells scanners apart and where they are (from settings, once)."""

    secret: str
    geoip: GeoIP | None
    secure_cookie: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> ScanClients:
        return cls(
            secret=settings.key_passphrase,
            geoip=geoip_for(settings.geoip_db),
            secure_cookie=settings.public_url.startswith("https://"),
        )


def _wants_json(accept: str, format: str | None) -> bool:
    if format in ("json", "html"):
        return format == "json"
    return "application/json" in accept and "text/html" not in accept


def _scanned_url(scope: Scope) -> str:
    # The raw path keeps a lot's or serial's %2F intact, which the decoded path would split.
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    text = raw.decode("latin-1")
    return f"{text}?{query.decode('latin-1')}" if query else text


def _cookie_header(device: str, secure: bool) -> tuple[bytes, bytes]:
    # What Starlette's `set_cookie` writes, without building a Morsel for every first scan.
    flags = f"HttpOnly; Max-Age={DEVICE_COOKIE_MAX_AGE}; Path=/; SameSite=lax"
    return (
        b"set-cookie",
        f"{DEVICE_COOKIE}={device}; {flags}{'; Secure' if secure else ''}".encode(),
    )


async def answer_scan(scope: Scope) -> Response:
    """A consumer scan of the label URL, from the request's scope: the device identified and
    counted, the verdict as JSON or as the consumer page."""
    now = utcnow()
    state = scope["app"].state
    clients: ScanClients = state.scan_clients
    verifier: Verifier = state.verifier
    accept = cookie = agent = ""
    for name, value in scope["headers"]:
        if name == b"accept":
            accept = value.decode("latin-1")
        elif name == b"cookie":
            cookie = value.decode("latin-1")
        elif name == b"user-agent":
            agent = value.decode("latin-1")
    raw_query: bytes = scope.get("query_string", b"")
    # A printed label's query is its signature alone: nothing in it for the answer.
    only_signature = raw_query.startswith(b"8030=") and b"&" not in raw_query
    query = (
        {}
        if only_signature
        else dict(parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True))
    )
    # The one notion of the client (core/clients: REGISTRY_TRUSTED_PROXIES), as rate limits.
    peer = client_address(scope)
    address = None if peer == UNKNOWN else peer
    device = identify(
        cookie_parser(cookie).get(DEVICE_COOKIE) if cookie else None,
        address,
        agent or None,
        secret=clients.secret,
    )
    place = locate(shared_place(query.get("lat"), query.get("lon")), clients.geoip, address)
    scanned = await verifier.scan(_scanned_url(scope), device=device.id, place=place, now=now)
    if _wants_json(accept, query.get("format")):
        response: Response = _JsonAnswer(scanned.body)
    else:
        page = VerifyResult.model_validate_json(scanned.body)
        response = verification_page(Request(scope), page)
    if device.set_cookie:
        response.raw_headers.append(_cookie_header(device.id, clients.secure_cookie))
    return response


class LabelScans:
    """ASGI middleware, the innermost: GET and HEAD of the label URL (the busiest route by
    far) are answered here, past the guard's limits and the read turn, without the
    framework's routing, dependency solving and exception middleware, which took a third
    of a scan's time (issue 10). Errors keep the one error shape; every other request goes
    on to the app, where the routes below document the label URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.get(ROUTE_KEY) if scope["type"] == "http" else None
        if route is None or route.path not in _LABEL_PATHS or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        try:
            response = await answer_scan(scope)
        except RegistryError as exc:
            response = error_response(exc)
        await response(scope, receive, send)


def _documented(name: str, where: str, description: str) -> dict[str, object]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": {"type": "string"},
    }


# The label URL is the busiest route: its handler takes only the request and reads the
# path and query itself (FastAPI's per-parameter validation was a tenth of its time), so
# the parameters are documented here rather than declared in the signature.
_LABEL_PARAMETERS = [
    _documented("gtin", "path", "GTIN-14 (AI 01)"),
    _documented("lot", "path", "batch or lot (AI 10)"),
    _documented("serial", "path", "serial number (AI 21)"),
    _documented("8030", "query", "AI 8030 signature"),
    _documented("format", "query", "json or html"),
    _documented("lat", "query", "optional latitude (kept to 0.1 deg)"),
    _documented("lon", "query", "optional longitude (kept to 0.1 deg)"),
]


@router.get(
    LABEL_PATH,
    response_model=VerifyResult,
    responses={200: {"content": {"text/html": {}}}},
    openapi_extra={"parameters": _LABEL_PARAMETERS},
)
async def verify_label(request: Request) -> Response:
    """Is this label genuine? HTML for a phone's browser; JSON with `Accept:
    application/json` or `?format=json`. A consumer scan: the device is counted (once, however
    often it reloads) before the answer. Every answer is 200 with a verdict, malformed codes
    included."""
    return await answer_scan(request.scope)  # (LabelScans answers first in a served app)


@router.get(ODD_PATH, include_in_schema=False)
async def verify_odd_path(request: Request) -> Response:
    """Anything else under /01/ (a lot with an encoded '/', a truncated URL) gets a verdict
    too: `invalid` with the reason, never a bare 404."""
    return await answer_scan(request.scope)
