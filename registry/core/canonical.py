"""RFC 8785 JSON canonicalization (JCS) and SHA-256 helpers; no framework imports.

`canonical_json` serializes the common case (ASCII keys, strings, integers, integral
floats, booleans, null) with orjson, whose output for those values is byte-for-byte the
JCS form; anything else (fractional floats, non-ASCII keys, huge integers) goes through the
`rfc8785` reference implementation. A property test holds the two paths equal.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import rfc8785

# JCS numbers are IEEE doubles; integers beyond this are not exactly representable.
_MAX_SAFE_INTEGER = 2**53 - 1


class _NeedsReference(Exception):
    """The value holds something the fast path does not render exactly as JCS."""


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if abs(value) > _MAX_SAFE_INTEGER:
            raise _NeedsReference
        return value
    if kind is float:
        # JCS writes an integral double like 5000.0 as 5000.
        if value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER:
            return int(value)
        raise _NeedsReference
    if kind is dict:
        out = {}
        for key, item in value.items():
            # Sorting ASCII keys by code point equals JCS's UTF-16 code-unit order.
            if type(key) is not str or not key.isascii():
                raise _NeedsReference
            out[key] = _plain(item)
        return out
    if kind is list or kind is tuple:
        return [_plain(item) for item in value]
    raise _NeedsReference


def _written_as_is(value: Any) -> bool:
    """True when orjson already writes the value as JCS (no float, no huge integer, ASCII
    keys): the common case, checked without copying (scalars inline: this runs per event)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            item_kind = type(item)
            if item_kind is str or item_kind is bool or item is None:
                continue
            if item_kind is int:
                if abs(item) > _MAX_SAFE_INTEGER:
                    return False
                continue
            if not _written_as_is(item):
                return False
        return True
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(abs(value) <= _MAX_SAFE_INTEGER)
    if kind is list or kind is tuple:
        return all(_written_as_is(item) for item in value)
    return False


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value: same value, same bytes."""
    if _written_as_is(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    try:
        plain = _plain(value)
    except _NeedsReference:
        return bytes(rfc8785.dumps(value))
    return orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
