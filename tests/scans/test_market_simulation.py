"""The clone-detection goals, met on a simulated market (tests/scans/market.py) at the
default settings, with and without a GeoIP database: no false alarm on a genuine unit, at
least 95% of copies flagged by their 6th distinct scanner, at most 10% of the scans of
copies answered "genuine", and a caught copy stays caught."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from registry.core.config import get_settings
from registry.core.time import utcnow
from registry.scans.counter import MemoryDeviceCounter
from registry.scans.geo import GeoIP
from registry.verify.cache import VerifyCache
from registry.verify.service import Verifier
from tests.factories import World, label_codes, labeled_batch
from tests.scans.geo_db import build_city_db
from tests.scans.market import Market, geoip_networks
from tests.verify.helpers import path_of

UNITS = 600
COPIES = 60


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("with_geoip", [False, True], ids=["no-geoip", "geoip"])
def test_the_defaults_catch_copies_without_false_alarms(
    world: World, engine: Engine, tmp_path: Path, with_geoip: bool
) -> None:
    _, run = labeled_batch(world, units=UNITS, count=UNITS)
    urls = [path_of(url) for url in label_codes(world, run["run_id"])]
    settings = get_settings()  # the defaults: threshold, travel speed and distance
    verifier = Verifier.from_settings(
        settings,
        cache=VerifyCache.from_settings(engine, settings),
        counter=MemoryDeviceCounter(),
        recorder=None,
    )
    geoip = (
        GeoIP(str(build_city_db(tmp_path / "city.mmdb", geoip_networks()))) if with_geoip else None
    )
    market = Market(urls, copies=COPIES, seed=2026, start=utcnow() + timedelta(hours=1))
    out = asyncio.run(market.run(verifier, geoip=geoip, secret=settings.key_passphrase))

    assert out.genuine_units == UNITS - COPIES
    assert out.copies == COPIES
    assert out.false_alarms == 0, out.alarmed
    assert out.flagged_by_sixth >= 0.95 * out.copies, out
    assert out.copy_scans_genuine <= 0.10 * out.copy_scans, out
    assert out.unflagged_after_flag == 0, out
