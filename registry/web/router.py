"""Public HTML pages outside the verify path: the brand page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from registry.brands.exceptions import BrandNotFound
from registry.core.deps import SessionDep
from registry.core.time import utcnow
from registry.web import service
from registry.web.pages import brand_not_found_page, brand_page

router = APIRouter(include_in_schema=False)


@router.get("/brands/{slug}", response_class=HTMLResponse)
def read_brand_page(slug: str, request: Request, session: SessionDep) -> HTMLResponse:
    try:
        overview = service.brand_overview(session, slug=slug, today=utcnow().date())
    except BrandNotFound:
        # People, not programs, read this path: answer the 404 as a page, not JSON.
        return brand_not_found_page(request, slug)
    return brand_page(request, overview)
