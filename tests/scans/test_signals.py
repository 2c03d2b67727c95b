"""Distances and impossible travel (registry/scans/signals.py): pure, no database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from registry.scans.signals import EARTH_RADIUS_KM, Sighting, haversine_km, impossible_travel

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
HALF_EARTH_KM = math.pi * EARTH_RADIUS_KM


def cosine_law_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The same great-circle distance by the spherical law of cosines (another formula)."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return EARTH_RADIUS_KM * math.acos(max(-1.0, min(1.0, c)))


@pytest.mark.parametrize(
    "points",
    [
        (31.2, 121.5, 39.9, 116.4),  # Shanghai - Beijing, about 1,070 km
        (-33.9, 151.2, 51.5, -0.1),  # Sydney - London, across the date line
        (26.6, 107.9, 26.6, 108.9),  # one degree of longitude at Kaili's latitude
        (10.0, 20.0, -35.0, -60.0),
    ],
)
def test_haversine_agrees_with_the_law_of_cosines(points: tuple[float, ...]) -> None:
    assert haversine_km(*points) == pytest.approx(cosine_law_km(*points), rel=1e-9)
    assert haversine_km(*points) == pytest.approx(haversine_km(*points[2:], *points[:2]))


def test_haversine_of_known_distances() -> None:
    assert haversine_km(26.6, 107.9, 26.6, 107.9) == 0
    assert haversine_km(0, 0, 0, 1) == pytest.approx(HALF_EARTH_KM / 180)
    assert haversine_km(0, 0, 90, 0) == pytest.approx(HALF_EARTH_KM / 2)
    # Antipodes where rounding makes the haversine a hair above 1: clamped, not a math error.
    assert haversine_km(3 / 7, 0, -3 / 7, 180) == pytest.approx(HALF_EARTH_KM)


def test_impossible_travel_names_the_move_in_time_order() -> None:
    shanghai = Sighting(T0, 31.2, 121.5)
    beijing = Sighting(T0 + timedelta(minutes=30), 39.9, 116.4)
    for a, b in ((shanghai, beijing), (beijing, shanghai)):
        move = impossible_travel(a, b, max_kmh=900, min_km=50)
        assert move is not None
        assert (move.earlier, move.later, move.hours) == (shanghai, beijing, 0.5)
        assert move.km == pytest.approx(haversine_km(31.2, 121.5, 39.9, 116.4))
    # Sightings at the same instant keep the order they were given in.
    same_time = Sighting(T0, 39.9, 116.4)
    move = impossible_travel(shanghai, same_time, max_kmh=900, min_km=50)
    assert move is not None
    assert (move.earlier, move.later, move.hours) == (shanghai, same_time, 0.0)


def test_the_limits_of_impossible_travel_are_inclusive_for_the_traveller() -> None:
    a = Sighting(T0, 31.2, 121.5)
    b = Sighting(T0 + timedelta(hours=1), 39.9, 116.4)
    km = haversine_km(31.2, 121.5, 39.9, 116.4)
    # Exactly the allowed speed is possible; a little faster is not.
    assert impossible_travel(a, b, max_kmh=km, min_km=50) is None
    assert impossible_travel(a, b, max_kmh=km * 0.999, min_km=50) is not None
    # A move exactly as long as the noise floor counts; a shorter one does not.
    assert impossible_travel(a, b, max_kmh=1, min_km=km) is not None
    assert impossible_travel(a, b, max_kmh=1, min_km=km * 1.001) is None


def test_a_move_is_described_with_distance_time_and_limit() -> None:
    a = Sighting(T0, 31.2, 121.5)
    later = impossible_travel(
        a, Sighting(T0 + timedelta(minutes=45), 39.9, 116.4), max_kmh=900.5, min_km=50
    )
    assert later is not None
    assert later.describe(900.5) == (
        "scanned 1071 km apart 45 min apart (faster than 900.5 km/h): the code may have been copied"
    )
    same = impossible_travel(a, Sighting(T0, 39.9, 116.4), max_kmh=900, min_km=50)
    assert same is not None
    assert same.describe(900).startswith("scanned 1071 km apart at the same time (faster than 900 ")
