"""Where a scan was made: the URL's or the page's shared `lat`/`lon` (coarse), else the
client address looked up in an optional MaxMind-format city database (`REGISTRY_GEOIP_DB`,
read with the maintained `maxminddb` reader). Locations are cells of 0.1 degree (~10 km) at
best, so a scan never pins down a person."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import maxminddb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """A scan's coarse location; `radius_km` is how far off it may be (GeoIP's accuracy
    radius; a few km for a shared position)."""

    lat: float
    lon: float
    region: str
    radius_km: float
    source: str  # "url" (the URL's or the page's shared position) or "geoip"


def coarse_coordinate(value: str | None, *, limit: float) -> float | None:
    """A client-supplied latitude/longitude rounded to 0.1 degree, or None if unusable."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not -limit <= number <= limit:  # also refuses NaN
        return None
    return round(number, 1)


def shared_place(lat: str | None, lon: str | None) -> Place | None:
    """The position the URL (or the page's opt-in "share my location") carries."""
    la, lo = coarse_coordinate(lat, limit=90), coarse_coordinate(lon, limit=180)
    if la is None or lo is None:
        return None
    return Place(la, lo, region=f"{la:.1f},{lo:.1f}", radius_km=8.0, source="url")


class GeoIP:
    """City lookups in a MaxMind-format database (opened once, memory-mapped if possible)."""

    def __init__(self, path: str) -> None:
        self._reader = maxminddb.open_database(path)

    def place(self, address: str | None) -> Place | None:
        if not address:
            return None
        try:
            record: Any = self._reader.get(address)
        except ValueError:  # not an address
            return None
        if not isinstance(record, dict):
            return None
        location = record.get("location") or {}
        lat, lon = location.get("latitude"), location.get("longitude")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            return None
        city = ((record.get("city") or {}).get("names") or {}).get("en")
        country = (record.get("country") or {}).get("iso_code")
        region = ", ".join(str(part) for part in (city, country) if part) or (
            f"{lat:.1f},{lon:.1f}"
        )
        radius = location.get("accuracy_radius")
        return Place(
            round(float(lat), 1),
            round(float(lon), 1),
            region=region,
            radius_km=float(radius) if isinstance(radius, int | float) else 50.0,
            source="geoip",
        )

    def close(self) -> None:
        self._reader.close()


@lru_cache(maxsize=4)
def geoip_for(path: str | None) -> GeoIP | None:
    """The database at `path` (one reader per process), or None when unset or unreadable
    (logged: scans are then located only by what the page sends)."""
    if not path:
        return None
    try:
        return GeoIP(path)
    except (OSError, ValueError) as exc:
        log.error("REGISTRY_GEOIP_DB %s cannot be read (%s); GeoIP is off", path, exc)
        return None


def locate(shared: Place | None, geoip: GeoIP | None, address: str | None) -> Place | None:
    """The shared position when there is one (it is finer), else the GeoIP city."""
    if shared is not None:
        return shared
    return geoip.place(address) if geoip is not None else None
