"""Bounded request bodies, checked before the framework parses them: a size limit checked
before a byte is buffered past it, the JSON content type, a limit on the number of JSON
values and one on their nesting. Used by the request guard (registry/core/guard.py).

The value limit is what keeps a large body from stalling the server. The framework parses
JSON on the event loop, and a worker thread would not help: the parser holds the GIL for
the whole parse, so the loop waits just the same (measured: docs/benchmarks.md, "Large
bodies"). Parse time grows with the number of values, not bytes (1 MiB of `{"a":[0]},`
takes a quarter of a second; 1 MiB of one string, a millisecond), so every accepted body
is bounded to a number of values that parses in milliseconds."""

from __future__ import annotations

import re
from typing import NamedTuple

from starlette.types import Message, Receive

from registry.core.errors import ContentTooLarge, UnsupportedMediaType


class BodyLimit(NamedTuple):
    """A route's body limits: its size in bytes and its JSON values (`json_values_at_most`)."""

    bytes: int
    values: int


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_values_at_most(body: bytes) -> int:
    """An upper bound of the values in a JSON text (array items and object members): each
    follows a comma or an opening bracket. Counted with `bytes.count` (a few milliseconds
    for 4 MiB), before any slower look at the text; characters inside strings count too,
    so text full of commas counts more than it holds."""
    return body.count(b",") + body.count(b"[") + body.count(b"{")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True when the JSON text nests arrays and objects more than `limit` levels deep.

    Strings (and escapes) are dropped, then each pass removes the innermost empty pairs:
    at most `limit` linear passes, without recursion and without parsing. Unbalanced text
    answers False; the parser refuses it."""
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", body)).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        if not brackets:
            return False
        reduced = _INNERMOST.sub(b"", brackets)
        if reduced == brackets:
            return False
        brackets = reduced
    return bool(_INNERMOST.search(brackets))


def is_json_type(content_type: str | None) -> bool:
    """`application/json` or `application/<anything>+json`, with any parameters."""
    if not content_type:
        return False
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (
        main.startswith("application/") and main.endswith("+json")
    )


def too_large(limit: int) -> ContentTooLarge:
    return ContentTooLarge(
        f"the request body is larger than this endpoint's limit of {limit} bytes"
    )


def too_many_values(limit: int) -> ContentTooLarge:
    return ContentTooLarge(
        f"the JSON body has more than this endpoint's limit of {limit} values "
        "(counted as the commas and opening brackets in it)"
    )


def too_deep(limit: int) -> ContentTooLarge:
    return ContentTooLarge(f"the JSON body nests deeper than the limit of {limit} levels")


def not_json(content_type: str | None) -> UnsupportedMediaType:
    sent = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    return UnsupportedMediaType(
        f"this endpoint takes a JSON body; the request had {sent}. "
        "Send the header Content-Type: application/json"
    )


class Disconnected(Exception):
    """The client went away while sending its body."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, or ContentTooLarge as soon as more than `limit` bytes arrived
    (nothing past the limit is kept)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the buffered body on once, then waits on the client."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
