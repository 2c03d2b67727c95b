"""Clone signals on the scans of one label code: too many scans, or two scans from places
too far apart for the time between them. Pure: no database, no framework.

Locations are the coarse ones stored with scans (0.1 degree cells), so distances below
`min_km` never count as travel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Sighting:
    """Where and when one scan of a code was made."""

    at: datetime
    lat: float
    lon: float


@dataclass(frozen=True)
class ImpossibleTravel:
    earlier: Sighting
    later: Sighting
    km: float
    hours: float

    def describe(self, max_kmh: float) -> str:
        speed = "at the same time" if self.hours <= 0 else f"{self.hours * 60:.0f} min apart"
        return (
            f"scanned {self.km:.0f} km apart {speed} (faster than {max_kmh:g} km/h): "
            "the code may have been copied"
        )


def impossible_travel(
    a: Sighting, b: Sighting, *, max_kmh: float, min_km: float
) -> ImpossibleTravel | None:
    """The move between two sightings if no one could have made it, else None."""
    earlier, later = (a, b) if a.at <= b.at else (b, a)
    km = haversine_km(earlier.lat, earlier.lon, later.lat, later.lon)
    if km < min_km:
        return None
    hours = (later.at - earlier.at).total_seconds() / 3600
    if km <= max_kmh * hours:
        return None
    return ImpossibleTravel(earlier=earlier, later=later, km=km, hours=hours)
