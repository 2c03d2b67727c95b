"""Public verification: the label URL itself (HTML for people, JSON for machines) and bulk."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Query, Request, Response

from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.core.time import utcnow
from registry.verify import cached, scans, service
from registry.verify.schemas import BulkVerifyRequest, BulkVerifyResponse, VerifyResult
from registry.web.pages import verification_page

router = APIRouter(tags=["verify"])


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


def _scan_context(request: Request) -> service.ScanContext:
    q, h = request.query_params, request.headers
    return service.ScanContext(
        recorder=getattr(request.app.state, "scan_recorder", None),
        lat=scans.coarse_coordinate(q.get("lat"), limit=90),
        lon=scans.coarse_coordinate(q.get("lon"), limit=180),
        country=scans.country_code(h.get("cf-ipcountry")),
        client_hash=scans.client_hash(
            request.client.host if request.client else None,
            h.get("user-agent"),
            secret=get_settings().key_passphrase,
        ),
    )


_JSON_HEADERS = {"Cache-Control": "no-store", "Vary": "Accept"}


def _verify_in_session(app: FastAPI, url: str, scan: service.ScanContext, now: datetime) -> bytes:
    with unit_of_work(app.state.engine) as session:
        result = service.verify_code(session, url=url, scan=scan, now=now)
    return result.model_dump_json().encode()


async def _answer(request: Request, format: str | None) -> Response:
    """Verified on the event loop from the cache (registry/verify/cached.py); a scan with a
    location needs the code's last located scan, so it takes the database path."""
    now = utcnow()
    url, scan = _scanned_url(request), _scan_context(request)
    if scan.lat is not None and scan.lon is not None:
        body = await to_thread.run_sync(_verify_in_session, request.app, url, scan, now)
    else:
        cache = cached.verify_cache(request.app)
        body = await cached.verify_url(cache, url=url, scan=scan, now=now)
    if not _wants_json(request, format):
        return verification_page(request, VerifyResult.model_validate_json(body))
    return Response(body, media_type="application/json", headers=_JSON_HEADERS)


@router.get(
    "/01/{gtin}/10/{lot}/21/{serial}",
    response_model=VerifyResult,
    responses={200: {"content": {"text/html": {}}}},
)
async def verify_label(
    gtin: str,
    lot: str,
    serial: str,
    request: Request,
    digsig: Annotated[str | None, Query(alias="8030", description="AI 8030 signature")] = None,
    format: Annotated[str | None, Query(description="json or html")] = None,
) -> Response:
    """Is this label genuine? HTML for a phone's browser; JSON with `Accept:
    application/json` or `?format=json`. Counts as a consumer scan (recorded in the
    background). Every answer is 200 with a verdict, malformed codes included."""
    return await _answer(request, format)


@router.get("/01/{rest:path}", include_in_schema=False)
async def verify_odd_path(rest: str, request: Request, format: str | None = None) -> Response:
    """Anything else under /01/ (a lot with an encoded '/', a truncated URL) gets a verdict
    too: `invalid` with the reason, never a bare 404."""
    return await _answer(request, format)


@router.post("/v1/verify", response_model=BulkVerifyResponse)
def verify_bulk(body: BulkVerifyRequest, request: Request) -> Response:
    """Verdicts for up to 1000 label URLs, in request order (not counted as scans)."""
    cache = cached.verify_cache(request.app)
    return Response(
        cached.verify_many(cache, codes=body.codes, now=utcnow()), media_type="application/json"
    )
