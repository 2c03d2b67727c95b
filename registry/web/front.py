"""The front door (`GET /`): what the registry is and where to go next, in Chinese or
English like every public page: the brands, the API documentation, the signing key set
and the transparency log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from registry.brands.service import list_brands
from registry.core.deps import SessionDep
from registry.web.render import PageContext, render

router = APIRouter(include_in_schema=False)

# (message id of the link text, message id of its explanation, path)
FRONT_LINKS = (
    ("front.docs", "front.docs_text", "/docs"),
    ("front.keys", "front.keys_text", "/.well-known/registry-keys.json"),
    ("front.log", "front.log_text", "/v1/log/checkpoint"),
    ("front.brands_json", "front.brands_json_text", "/v1/brands"),
)


@router.get("/", response_class=HTMLResponse)
def front_door(request: Request, session: SessionDep) -> HTMLResponse:
    ctx = PageContext(request)
    return render(ctx, "front.html", brands=list_brands(session), links=FRONT_LINKS)
