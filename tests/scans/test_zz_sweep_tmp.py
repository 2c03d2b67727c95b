import asyncio
import pathlib
from dataclasses import replace
from datetime import timedelta

import pytest

from registry.core.config import get_settings
from registry.core.time import utcnow
from registry.scans.counter import MemoryDeviceCounter
from registry.verify.cache import VerifyCache
from registry.verify.service import Verifier
from tests.factories import label_codes, labeled_batch
from tests.scans.market import Market
from tests.verify.helpers import path_of


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sweep(world, engine):
    _, run = labeled_batch(world, units=600, count=600)
    urls = [path_of(u) for u in label_codes(world, run["run_id"])]
    settings = get_settings()
    lines = []
    for seed in (2026, 7, 99):
        for threshold in (3, 4, 5, 6):
            v = Verifier.from_settings(
                settings,
                cache=VerifyCache.from_settings(engine, settings),
                counter=MemoryDeviceCounter(),
                recorder=None,
            )
            v.rules = replace(v.rules, default_threshold=threshold)
            m = Market(urls, copies=60, seed=seed, start=utcnow() + timedelta(hours=1))
            o = asyncio.run(m.run(v, geoip=None, secret=settings.key_passphrase))
            lines.append(
                f"seed={seed} T={threshold} false_alarms={o.false_alarms}/{o.genuine_units} by6th={o.flagged_by_sixth}/{o.copies} copy_genuine={o.copy_scans_genuine}/{o.copy_scans}={o.copy_scans_genuine / o.copy_scans:.3f} orig_not_genuine={o.original_scans_not_genuine}/{o.original_scans}"
            )
            pathlib.Path("/tmp/i10-sweep.txt").write_text("\n".join(lines))
