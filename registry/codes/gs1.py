"""GS1 identifier formats the label code carries: GTIN (mod-10 check digit) and the AI 10 /
AI 21 text of character set 82. Pure: imports nothing of the registry.

Each `normalize_*`/`check_*` returns the canonical form or raises `IdentifierError` naming
what was expected and what was found.
"""

from __future__ import annotations

import string


class IdentifierError(ValueError):
    """An identifier does not have the required format or check character."""


# GS1 General Specifications, figure 7.11-1: AI encodable character set 82.
GS1_AI82 = frozenset(string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_")


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
