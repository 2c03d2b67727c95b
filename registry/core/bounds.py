"""Bounded request bodies: a size limit checked before a byte is buffered past it, a JSON
nesting limit checked before parsing (in a worker thread for large bodies), and the JSON
content type. Used by the request guard (registry/core/guard.py)."""

from __future__ import annotations

import re

from anyio import to_thread
from starlette.types import Message, Receive

from registry.core.errors import ContentTooLarge, UnsupportedMediaType

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


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


async def check_depth(body: bytes, limit: int, *, offload_over: int) -> None:
    """ContentTooLarge when the JSON nests deeper than `limit`; a body larger than
    `offload_over` bytes is scanned in a worker thread, off the event loop."""
    if len(body) > offload_over:
        deep = await to_thread.run_sync(json_depth_exceeds, body, limit)
    else:
        deep = json_depth_exceeds(body, limit)
    if deep:
        raise too_deep(limit)
