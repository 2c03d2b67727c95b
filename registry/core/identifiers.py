"""Identifier formats of DESIGN.md: GTIN, GS1 lot/serial, county codes, credit codes.

Pure functions with no framework imports. Each `normalize_*`/`check_*` returns the
canonical form or raises `IdentifierError` naming what was expected and what was found.
"""

from __future__ import annotations

import re

from registry.codes.gs1 import (  # the label-code formats; re-exported for the domains
    GS1_AI82,
    IdentifierError,
    check_gs1_text,
    gs1_check_digit,
    normalize_gtin,
)

__all__ = [
    "GS1_AI82",
    "IdentifierError",
    "check_county_code",
    "check_credit_code",
    "check_gs1_text",
    "check_text",
    "gs1_check_digit",
    "normalize_gtin",
]

# ASCII digits only: `\d` would also take full-width and other Unicode digits (５２２６３２).
_COUNTY_RE = re.compile(r"[1-8][0-9]{5}")
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_county_code(value: str) -> str:
    """Accept a 6-digit county-level administrative division code (e.g. 522632)."""
    if not _COUNTY_RE.fullmatch(value) or value.endswith("00"):
        raise IdentifierError(f"county code must be a 6-digit county-level code, got {value!r}")
    return value


def check_text(value: str) -> str:
    """Accept text without NUL characters: PostgreSQL cannot store them and SQLite would,
    so both refuse them here and a request gets the same answer on either."""
    if "\x00" in value:
        raise IdentifierError("must not contain NUL (\\u0000) characters")
    return value


def check_credit_code(value: str) -> str:
    """Accept an 18-character unified social credit code with a right check character.

    The check character is computed as GB 32100-2015 specifies."""
    code = value.upper()
    if not value.isascii() or len(code) != 18 or any(c not in _CREDIT_ALPHABET for c in code):
        raise IdentifierError(
            f"credit code must be 18 characters of {_CREDIT_ALPHABET}, got {value!r}"
        )
    total = sum(
        _CREDIT_ALPHABET.index(c) * w for c, w in zip(code[:17], _CREDIT_WEIGHTS, strict=True)
    )
    expected = _CREDIT_ALPHABET[(31 - total % 31) % 31]
    if code[17] != expected:
        raise IdentifierError(f"credit code check character is {code[17]}, expected {expected}")
    return code
