"""Builds small MaxMind-format city databases for tests with `mmdb-writer` (an independent
writer: the registry only reads them, with MaxMind's own `maxminddb` reader)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from mmdb_writer import MMDBWriter
from netaddr import IPSet


class City(NamedTuple):
    name: str
    country: str
    lat: float
    lon: float
    radius_km: int


def build_city_db(path: Path, networks: dict[str, City]) -> Path:
    """A GeoIP2-City-shaped database answering each network with its city."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
    for cidr, city in networks.items():
        writer.insert_network(
            IPSet([cidr]),
            {
                "city": {"names": {"en": city.name}},
                "country": {"iso_code": city.country},
                "location": {
                    "latitude": city.lat,
                    "longitude": city.lon,
                    "accuracy_radius": city.radius_km,
                },
            },
        )
    writer.to_db_file(str(path))
    return path
