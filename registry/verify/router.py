"""Bulk verification (platforms checking listings). The label URL itself, which people open
with a phone, is served by registry/web/scan.py (HTML or JSON)."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request, Response

from registry.core.routes import works_in_thread
from registry.core.time import utcnow
from registry.verify.schemas import BulkVerifyRequest, BulkVerifyResponse
from registry.verify.service import Verifier

router = APIRouter(tags=["verify"])


@router.post("/v1/verify", response_model=BulkVerifyResponse)
@works_in_thread  # one call at a time per process (Verifier.bulk_calls)
async def verify_bulk(body: BulkVerifyRequest, request: Request) -> Response:
    """Verdicts for up to 1000 label URLs, in request order (not counted as scans)."""
    verifier: Verifier = request.app.state.verifier
    answer = await to_thread.run_sync(
        verifier.check_many, body.codes, utcnow(), limiter=verifier.bulk_calls
    )
    return Response(answer, media_type="application/json")
