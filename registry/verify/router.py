"""Public verification: the label URL itself (HTML for people, JSON for machines) and bulk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from registry.core.config import get_settings
from registry.core.db import SessionDep
from registry.verify import scans, service
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


def _answer(request: Request, session: SessionDep, format: str | None) -> Response:
    result = service.verify_code(session, url=_scanned_url(request), scan=_scan_context(request))
    if not _wants_json(request, format):
        return verification_page(request, result)
    return Response(
        result.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "no-store", "Vary": "Accept"},
    )


@router.get(
    "/01/{gtin}/10/{lot}/21/{serial}",
    response_model=VerifyResult,
    responses={200: {"content": {"text/html": {}}}},
)
def verify_label(
    gtin: str,
    lot: str,
    serial: str,
    request: Request,
    session: SessionDep,
    digsig: Annotated[str | None, Query(alias="8030", description="AI 8030 signature")] = None,
    format: Annotated[str | None, Query(description="json or html")] = None,
) -> Response:
    """Is this label genuine? HTML for a phone's browser; JSON with `Accept:
    application/json` or `?format=json`. Counts as a consumer scan (recorded in the
    background). Every answer is 200 with a verdict, malformed codes included."""
    return _answer(request, session, format)


@router.get("/01/{rest:path}", include_in_schema=False)
def verify_odd_path(
    rest: str, request: Request, session: SessionDep, format: str | None = None
) -> Response:
    """Anything else under /01/ (a lot with an encoded '/', a truncated URL) gets a verdict
    too: `invalid` with the reason, never a bare 404."""
    return _answer(request, session, format)


@router.post("/v1/verify", response_model=BulkVerifyResponse)
def verify_bulk(body: BulkVerifyRequest, session: SessionDep) -> BulkVerifyResponse:
    """Verdicts for up to 1000 label URLs, in request order (not counted as scans)."""
    return service.verify_many(session, codes=body.codes)
