"""Telling scanners apart: the device identifier, the client address behind trusted proxies
only, and the coarse location (URL, shared position, GeoIP)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from registry.core.clients import resolve_client_address
from registry.core.config import get_settings, parse_networks
from registry.main import create_app
from registry.scans.devices import (
    identify,
    network_device,
    network_of,
    valid_device,
)
from registry.scans.geo import GeoIP, coarse_coordinate, geoip_for, locate, shared_place
from tests.factories import World, label_codes, labeled_batch
from tests.scans.geo_db import City, build_city_db
from tests.verify.helpers import path_of

KAILI = City("Kaili", "CN", 26.58, 107.98, 20)
SHANGHAI = City("Shanghai", "CN", 31.23, 121.47, 10)


def test_a_device_is_its_cookie_or_the_hash_of_network_and_user_agent() -> None:
    home = identify(None, "203.0.113.7", "Phone A", secret="s")
    assert home.set_cookie
    assert valid_device(home.id)
    # The same phone on the same network, with or without the cookie it was given.
    assert identify(None, "203.0.113.99", "Phone A", secret="s").id == home.id
    assert identify(home.id, "198.51.100.1", "Phone A", secret="s") == type(home)(home.id, False)
    # Another network or another phone model is another device (until it has a cookie).
    assert identify(None, "198.51.100.1", "Phone A", secret="s").id != home.id
    assert identify(None, "203.0.113.7", "Phone B", secret="s").id != home.id
    # A malformed cookie is replaced, never trusted.
    for bad in ("", "x" * 32, home.id.upper(), home.id + "0", "<script>"):
        assert identify(bad, "203.0.113.7", "Phone A", secret="s") == home
    assert "203.0.113" not in home.id
    assert network_device("203.0.113.7", "Phone A", secret="other") != home.id


def test_networks_are_coarse() -> None:
    assert network_of("203.0.113.7") == "203.0.113.0/24"
    assert network_of("2001:db8:1:2:3::4") == "2001:db8:1::/56"
    assert network_of("2001:db8:1:2ff::4") == "2001:db8:1:200::/56"
    assert network_of("testclient") == network_of(None) == ""


def test_the_client_address_comes_from_a_header_only_behind_a_trusted_proxy() -> None:
    # Device counting uses the registry's one client-address rule (registry/core/clients).
    forwarded = ["192.0.2.66, 203.0.113.7"]
    assert resolve_client_address("10.0.0.5", forwarded, ()) == "10.0.0.5"  # default
    proxies = parse_networks("10.0.0.0/8")
    assert resolve_client_address("10.0.0.5", forwarded, proxies) == "203.0.113.7"
    assert resolve_client_address("198.51.100.9", forwarded, proxies) == "198.51.100.9"
    # Proxies chained inside the trusted network are skipped; the client's own claims
    # to the left of the first untrusted hop are ignored.
    chained = ["192.0.2.66, 203.0.113.7, 10.1.1.1"]
    assert resolve_client_address("10.0.0.5", chained, proxies) == "203.0.113.7"
    assert resolve_client_address("10.0.0.5", ["junk"], proxies) == "10.0.0.5"
    assert resolve_client_address("10.0.0.5", [], proxies) == "10.0.0.5"
    with pytest.raises(ValueError, match="not an IP address or network"):
        parse_networks("not-a-network")


def test_positions_are_coarse() -> None:
    assert coarse_coordinate("26.2547", limit=90) == 26.3
    assert coarse_coordinate("-108.04", limit=180) == -108.0
    for bad in ("91", "nan", "x", "", None, "1e999"):
        assert coarse_coordinate(bad, limit=90) is None
    place = shared_place("31.2304", "121.4737")
    assert place is not None
    assert (place.lat, place.lon, place.region, place.source) == (31.2, 121.5, "31.2,121.5", "url")
    assert shared_place("31.2", None) is None


def test_geoip_reads_a_maxmind_city_database(tmp_path: Path) -> None:
    path = build_city_db(
        tmp_path / "city.mmdb", {"203.0.113.0/24": KAILI, "2001:db8::/32": SHANGHAI}
    )
    geoip = GeoIP(str(path))
    kaili = geoip.place("203.0.113.7")
    assert kaili is not None
    assert (kaili.lat, kaili.lon, kaili.region, kaili.radius_km) == (26.6, 108.0, "Kaili, CN", 20)
    shanghai = geoip.place("2001:db8::1")
    assert shanghai is not None
    assert shanghai.region == "Shanghai, CN"
    assert geoip.place("198.51.100.1") is None
    assert geoip.place("not an address") is None
    assert geoip.place(None) is None
    # A shared position wins over GeoIP; without either there is no location.
    shared = shared_place("39.9", "116.4")
    assert locate(shared, geoip, "203.0.113.7") == shared
    assert locate(None, geoip, "203.0.113.7") == kaili
    assert locate(None, None, "203.0.113.7") is None
    geoip.close()
    assert geoip_for(str(tmp_path / "missing.mmdb")) is None  # logged, GeoIP off


def test_scans_are_located_by_geoip_and_set_the_device_cookie(
    world: World, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, run = labeled_batch(world, units=10, count=1)
    (url,) = label_codes(world, run["run_id"])
    path = build_city_db(tmp_path / "city.mmdb", {"203.0.113.0/24": KAILI})
    monkeypatch.setenv("REGISTRY_GEOIP_DB", str(path))
    get_settings.cache_clear()
    try:
        app = create_app(engine)
        with TestClient(app, client=("203.0.113.7", 40000)) as phone:
            r = phone.get(path_of(url), headers={"Accept": "application/json"})
            cookie = r.cookies.get("rg_device")
            assert valid_device(cookie)
            assert "httponly" in r.headers["set-cookie"].lower()
            assert r.json()["scans"]["first_region"] == "Kaili, CN"
            again = phone.get(path_of(url) + "&lang=en", headers={"Accept": "application/json"})
            assert "set-cookie" not in again.headers  # it sent the cookie back
            assert again.json()["scans"]["count"] == 1
    finally:
        get_settings.cache_clear()
