"""Reading the console's HTML form posts (application/x-www-form-urlencoded) without a
multipart parser: the forms hold a few short text fields."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from registry.core.errors import RegistryError

MAX_FORM_BYTES = 32 * 1024
MAX_FIELDS = 100


class UnsupportedForm(RegistryError):
    status_code = 415


class FormTooLarge(RegistryError):
    status_code = 413


async def form_body(request: Request) -> dict[str, str]:
    """The posted fields (the last value wins for a repeated name)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise UnsupportedForm("console forms are posted as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge(f"a console form is at most {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnsupportedForm("the form is not valid UTF-8 url-encoded text") from exc
    return dict(pairs)


FormData = Annotated[dict[str, str], Depends(form_body)]
