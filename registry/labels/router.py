"""HTTP routes for label runs, their codes and QR images, and the published key set."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from registry.core.auth import CurrentOrg, WriteCaller, Writer
from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.core.deps import SessionDep
from registry.core.pagination import Cursor, Page, decode_cursor, encode_cursor
from registry.labels import qr, service
from registry.labels.layouts import SheetLayoutsPublic, public_layouts
from registry.labels.models import format_serial
from registry.labels.schemas import (
    MAX_CODES_PAGE,
    LabelCodePublic,
    LabelRunCreate,
    LabelRunPublic,
)
from registry.orgs.models import Organization, OrgKind

router = APIRouter(tags=["labels"])
Cooperative = Annotated[WriteCaller, Depends(Writer(OrgKind.cooperative))]
# Printed labels outlive any cache; a revoked key must reach offline verifiers within minutes.
JWKS_MAX_AGE = 300
CSV_PAGE = 2000


@router.post("/v1/batches/{batch_id}/labels", status_code=201, response_model=LabelRunPublic)
def create_label_run(batch_id: str, body: LabelRunCreate, caller: Cooperative) -> LabelRunPublic:
    """Issue a run of `count` signed label codes for the batch (labels <= packed units)."""
    with caller.unit() as (session, coop):
        run = service.create_label_run(
            session,
            batch_id=batch_id,
            count=body.count,
            actor=coop,
            passphrase=get_settings().key_passphrase,
        )
    return LabelRunPublic.build(run)


def _wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")


@router.get(
    "/v1/labels/runs/{run_id}/codes",
    response_model=Page[LabelCodePublic],
    responses={200: {"content": {"text/csv": {}}}},
)
def list_codes(
    run_id: str,
    request: Request,
    session: SessionDep,
    org: CurrentOrg,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CODES_PAGE)] = 1000,
    format: Literal["json", "csv"] | None = None,
) -> Response:
    """The run's label URLs in serial order, `limit` a page (`X-Total-Count` = run size);
    follow `next_cursor` for more. `?format=csv` or `Accept: text/csv` gives the whole
    run's `serial,url` rows in one streamed download, for label printers."""
    settings = get_settings()
    if _wants_csv(request, format):
        run, _ = service.readable_run(session, run_id=run_id, actor=org)
        rows = _csv_rows(request.app.state.engine, run_id, run.count, org.id)
        return StreamingResponse(
            rows,
            media_type="text/csv; charset=utf-8",
            headers={
                "X-Total-Count": str(run.count),
                "Content-Disposition": f'attachment; filename="codes-{run_id}.csv"',
            },
        )
    run, _ = service.readable_run(session, run_id=run_id, actor=org)
    offset = 0
    if cursor is not None:
        offset = decode_cursor(cursor, int)[0] - run.first_serial + 1
    run, codes = service.run_codes(
        session,
        run_id=run_id,
        actor=org,
        offset=max(offset, 0),
        limit=limit,
        base_url=settings.public_url,
        passphrase=settings.key_passphrase,
    )
    next_cursor = None
    if codes and codes[-1].serial != format_serial(run.last_serial):
        next_cursor = encode_cursor(int(codes[-1].serial))
    body = orjson.dumps(
        {"items": [code.model_dump() for code in codes], "next_cursor": next_cursor}
    )
    return Response(body, media_type="application/json", headers={"X-Total-Count": str(run.count)})


def _csv_rows(engine: Engine, run_id: str, count: int, org_id: str) -> Iterator[bytes]:
    """`serial,url` rows of the whole run, signed a page at a time, each page its own
    short read (access re-checked), so memory stays flat for a million-label run."""
    settings = get_settings()
    yield b"serial,url\n"
    for offset in range(0, count, CSV_PAGE):
        with unit_of_work(engine) as session:
            org = session.get(Organization, org_id)
            assert org is not None  # organizations are never deleted
            _, codes = service.run_codes(
                session,
                run_id=run_id,
                actor=org,
                offset=offset,
                limit=CSV_PAGE,
                base_url=settings.public_url,
                passphrase=settings.key_passphrase,
            )
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows((c.serial, c.url) for c in codes)
        yield out.getvalue().encode("utf-8")


def _qr(
    session: SessionDep, org: Organization, run_id: str, serial: str, kind: Literal["png", "svg"]
) -> Response:
    settings = get_settings()
    url = service.code_url(
        session,
        run_id=run_id,
        serial=serial,
        actor=org,
        base_url=settings.public_url,
        passphrase=settings.key_passphrase,
    )
    image, media_type = (
        (qr.render_png(url), "image/png")
        if kind == "png"
        else (qr.render_svg(url), "image/svg+xml")
    )
    # Deterministic signatures: the same serial always renders the same image.
    return Response(
        image, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"}
    )


@router.get(
    "/v1/labels/runs/{run_id}/qr/{serial}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def qr_png(run_id: str, serial: str, session: SessionDep, org: CurrentOrg) -> Response:
    """The QR code (level M) of one label URL, as PNG."""
    return _qr(session, org, run_id, serial, "png")


@router.get(
    "/v1/labels/runs/{run_id}/qr/{serial}.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def qr_svg(run_id: str, serial: str, session: SessionDep, org: CurrentOrg) -> Response:
    """The QR code (level M) of one label URL, as a standalone SVG."""
    return _qr(session, org, run_id, serial, "svg")


@router.get("/v1/labels/layouts", response_model=SheetLayoutsPublic)
def sheet_layouts() -> SheetLayoutsPublic:
    """The label sheet layouts (`POST /v1/labels/runs/{run_id}/sheet`): labels per page,
    label size, the printed size of one QR module (never below GS1's 0.396 mm) and of the
    largest code, and the longest label URL each holds. Public."""
    return public_layouts()


@router.get(
    "/.well-known/registry-keys.json",
    tags=["verify"],
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 304: {"description": "unchanged"}},
)
def registry_keys(request: Request, session: SessionDep) -> Response:
    """Every label public key the registry ever used, with its status, as a JWKS (RFC 7517
    with RFC 8037 OKP keys). Cacheable for a few minutes; revalidate with `If-None-Match`."""
    body = orjson.dumps(service.published_key_set(session).to_jwks())
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={JWKS_MAX_AGE}",
        "ETag": etag,
        "Access-Control-Allow-Origin": "*",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
