"""Identifier formats of DESIGN.md: GTIN, GS1 lot/serial, county codes, credit codes.

Pure functions with no framework imports. Each `normalize_*`/`check_*` returns the
canonical form or raises `IdentifierError` naming what was expected and what was found.
"""

from __future__ import annotations

import re
import string


class IdentifierError(ValueError):
    """An identifier does not have the required format or check character."""


# GS1 General Specifications, figure 7.11-1: AI encodable character set 82.
GS1_AI82 = frozenset(string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_")
# ASCII digits only: `\d` would also take full-width and other Unicode digits (５２２６３２).
_COUNTY_RE = re.compile(r"[1-8][0-9]{5}")
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for `body` (all digits but the check digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_gtin(value: str) -> str:
    """Return the 14-digit GTIN for a GTIN-8/12/13/14 whose check digit is right."""
    if not value.isascii() or not value.isdigit() or len(value) not in (8, 12, 13, 14):
        raise IdentifierError(f"GTIN must be 8, 12, 13 or 14 digits, got {value!r}")
    gtin = value.zfill(14)
    expected = gs1_check_digit(gtin[:-1])
    if int(gtin[-1]) != expected:
        raise IdentifierError(f"GTIN {value} has check digit {gtin[-1]}, expected {expected}")
    return gtin


def check_gs1_text(value: str, *, field: str = "lot") -> str:
    """Accept 1-20 characters of GS1 AI character set 82 (AI 10 lot, AI 21 serial)."""
    if not 1 <= len(value) <= 20:
        raise IdentifierError(f"{field} must be 1-20 characters, got {len(value)}")
    bad = sorted({c for c in value if c not in GS1_AI82})
    if bad:
        raise IdentifierError(f"{field} has characters outside GS1 set 82: {''.join(bad)!r}")
    return value


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
