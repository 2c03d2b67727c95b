"""The label URL a phone opens: `GET /01/{gtin}/10/{lot}/21/{serial}?8030=...`, answered as
the consumer page (HTML) or, with `Accept: application/json` / `?format=json`, the JSON
verdict. Each request is a consumer scan: its device is identified here (cookie, else a
keyed hash of network and user agent), located (the URL's or the page's shared position,
else GeoIP), and counted by the verifier before it answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response

from registry.core.clients import UNKNOWN, client_address
from registry.core.config import Settings
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
_JSON_HEADERS = {"Cache-Control": "no-store", "Vary": "Accept, Cookie"}


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


def _wants_json(request: Request, format: str | None) -> bool:
    if format in ("json", "html"):
        return format == "json"
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _scanned_url(request: Request) -> str:
    # The raw path keeps a lot's or serial's %2F intact, which the decoded path would split.
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    text = raw.decode("latin-1")
    return f"{text}?{query.decode('latin-1')}" if query else text


async def _answer(request: Request, format: str | None) -> Response:
    now = utcnow()
    clients: ScanClients = request.app.state.scan_clients
    verifier: Verifier = request.app.state.verifier
    headers, query = request.headers, request.query_params
    # The one notion of the client (core/clients: REGISTRY_TRUSTED_PROXIES), as rate limits.
    peer = client_address(request)
    address = None if peer == UNKNOWN else peer
    device = identify(
        request.cookies.get(DEVICE_COOKIE),
        address,
        headers.get("user-agent"),
        secret=clients.secret,
    )
    place = locate(shared_place(query.get("lat"), query.get("lon")), clients.geoip, address)
    scanned = await verifier.scan(_scanned_url(request), device=device.id, place=place, now=now)
    if _wants_json(request, format):
        response: Response = Response(
            scanned.body, media_type="application/json", headers=_JSON_HEADERS
        )
    else:
        response = verification_page(request, VerifyResult.model_validate_json(scanned.body))
    if device.set_cookie:
        response.set_cookie(
            DEVICE_COOKIE,
            device.id,
            max_age=DEVICE_COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=clients.secure_cookie,
        )
    return response


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
    "/01/{gtin}/10/{lot}/21/{serial}",
    response_model=VerifyResult,
    responses={200: {"content": {"text/html": {}}}},
    openapi_extra={"parameters": _LABEL_PARAMETERS},
)
async def verify_label(request: Request) -> Response:
    """Is this label genuine? HTML for a phone's browser; JSON with `Accept:
    application/json` or `?format=json`. A consumer scan: the device is counted (once, however
    often it reloads) before the answer. Every answer is 200 with a verdict, malformed codes
    included."""
    return await _answer(request, request.query_params.get("format"))


@router.get("/01/{rest:path}", include_in_schema=False)
async def verify_odd_path(rest: str, request: Request, format: str | None = None) -> Response:
    """Anything else under /01/ (a lot with an encoded '/', a truncated URL) gets a verdict
    too: `invalid` with the reason, never a bare 404."""
    return await _answer(request, format)
