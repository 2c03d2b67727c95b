"""Keyset pagination for lists that grow: an opaque cursor holding the last item's sort key,
and the one page shape `{"items": [...], "next_cursor": ...}`.

A cursor is base64url (no padding) of a JSON array of the last item's keys; it carries no
secret and the server re-checks every filter on each page, so a forged cursor can only
skip items the caller could see anyway.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from registry.core.errors import InvalidInput

# The cap on one page of any list; clients follow next_cursor for more.
MAX_PAGE = 500
DEFAULT_PAGE = 100

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size (at most {MAX_PAGE})")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page; omit for the first"),
]


class InvalidCursor(InvalidInput):
    pass


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant from a cursor (422 if it is none)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidCursor("cursor is not one this list handed out") from None
    if value.tzinfo is None:
        raise InvalidCursor("cursor is not one this list handed out")
    return value


def encode_cursor(*keys: str | int | float) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(keys))).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, *types: type) -> list[Any]:
    """The keys of a cursor, each checked against the expected type (422 otherwise)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        keys = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise InvalidCursor("cursor is not one this list handed out") from None
    if (
        not isinstance(keys, list)
        or len(keys) != len(types)
        or not all(type(k) is t for k, t in zip(keys, types, strict=True))
    ):
        raise InvalidCursor("cursor is not one this list handed out")
    return keys
