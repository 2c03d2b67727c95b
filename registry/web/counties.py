"""Names of China's county-level divisions (and the prefectures above them) by their 6-digit
administrative division code, from `counties.csv` (rebuilt by `scripts/county_table.py`)."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources


@lru_cache
def county_names() -> dict[str, str]:
    """`{code: Chinese name}` for every division in the shipped table (~3,200 rows)."""
    text = resources.files("registry.web").joinpath("counties.csv").read_text("utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(io.StringIO(text))}


def county_name(code: str) -> str | None:
    """The Chinese name of a county-level code, or None if the table does not have it."""
    return county_names().get(code)
