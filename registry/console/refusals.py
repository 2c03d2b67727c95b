"""The registry's refusals in the member's language, with their numbers.

The rules (batches/service.py, batches/ledger.py, brands/service.py) explain a refusal in
one English sentence carrying the numbers; this module recognizes those sentences and
words them again from the console's catalogue. Pure: no framework or database. A refusal
it does not recognize is shown as a generic line followed by the registry's own words, so
nothing is ever hidden. tests/console/test_refusals.py triggers every recognized refusal
through the API, so a changed sentence fails a test instead of silently falling back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_NUM = r"(-?[0-9.]+(?:e[+-]?[0-9]+)?)"


@dataclass(frozen=True)
class Pattern:
    error: str
    message_id: str
    regex: re.Pattern[str]
    names: tuple[str, ...]


def _p(error: str, message_id: str, regex: str, *names: str) -> Pattern:
    return Pattern(error, message_id, re.compile(regex), names)


PATTERNS = (
    _p(
        "QuotaExceeded",
        "refusal.quota",
        rf"^harvest of {_NUM} kg would bring .+'s (\d{{4}}) total under '([^']+)' to {_NUM} kg, "
        rf"over its quota of {_NUM} kg$",
        "kg",
        "year",
        "brand",
        "total",
        "quota",
    ),
    _p(
        "OutsideProductionArea",
        "refusal.area",
        r"^county (\d{6}) is outside the production area of '([^']+)' \(([^)]*)\)$",
        "county",
        "brand",
        "counties",
    ),
    _p(
        "MassBalanceExceeded",
        "refusal.packing",
        rf"^packing {_NUM} kg would exceed the harvest: {_NUM} kg harvested, "
        rf"{_NUM} kg already packed$",
        "kg",
        "harvested",
        "packed",
    ),
    _p(
        "MassBalanceExceeded",
        "refusal.labels",
        r"^(\d+) labels requested, but (\d+) units are packed and (\d+) labels already issued$",
        "count",
        "units",
        "issued",
    ),
    _p(
        "MassBalanceExceeded",
        "refusal.take",
        rf"^cannot (ship|sell) {_NUM} kg: you hold {_NUM} kg of this batch$",
        "verb",
        "kg",
        "held",
    ),
    _p(
        "MassBalanceExceeded",
        "refusal.receive",
        rf"^receiving {_NUM} kg from \S+, but only {_NUM} kg was shipped to you and not yet "
        r"received$",
        "kg",
        "pending",
    ),
)
# Refusals without numbers: one sentence per error class, then the registry's words.
GENERIC = {
    "NotCustodian": "refusal.not_custodian",
    "NoValidLicense": "refusal.no_license",
    "Forbidden": "refusal.forbidden",
    "ValidationError": "refusal.invalid",
    "InvalidInput": "refusal.invalid",
    "InvalidCorrection": "refusal.invalid",
    "BatchNotFound": "refusal.not_found",
    "IdempotencyKeyReused": "refusal.key_reused",
    "UsernameTaken": "refusal.username_taken",
    "CsrfRejected": "refusal.stale_form",
    "NotMemberAdmin": "refusal.forbidden",
}


def _number(text: str) -> str:
    value = float(text)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def explain(error: str, detail: str, t: Callable[..., str]) -> str:
    """The refusal in the language of `t` (a translator: `t(message_id, **values)`)."""
    for pattern in PATTERNS:
        if pattern.error != error:
            continue
        match = pattern.regex.match(detail)
        if match is None:
            continue
        values = dict(zip(pattern.names, match.groups(), strict=True))
        for name, value in values.items():
            if re.fullmatch(_NUM, value):
                values[name] = _number(value)
        if "verb" in values:
            values["verb"] = t(f"refusal.verb_{values['verb']}")
        return str(t(pattern.message_id, **values))
    return f"{t(GENERIC.get(error, 'refusal.other'))} ({detail})"
