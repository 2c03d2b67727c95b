"""Renders the consumer verification page from a VerifyResult (server-side, no JavaScript)."""

from __future__ import annotations

import html

from fastapi import Request
from fastapi.responses import HTMLResponse

from registry.verify.schemas import VerifyResult


def verification_page(request: Request, result: VerifyResult) -> HTMLResponse:
    """The HTML answer to a browser that opened a label URL."""
    verdict = html.escape(result.verdict.value)
    body = (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>{verdict}</title></head><body><h1>{verdict}</h1></body></html>"
    )
    return HTMLResponse(body)
