"""The clone rules alone (registry/scans/rules.py): pure, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registry.scans.rules import (
    IMPOSSIBLE_TRAVEL,
    SCAN_THRESHOLD_EXCEEDED,
    CloneRules,
    CodeScans,
    Located,
    clone_signals,
    flag_of,
    shipping_signal,
)

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
RULES = CloneRules(default_threshold=4, max_travel_kmh=900, min_travel_km=50)
SHANGHAI = Located(T0, 31.2, 121.5, 10, "a" * 32, "Shanghai, CN")


def beijing(device: str, minutes: float, radius: float = 10) -> Located:
    return Located(T0 + timedelta(minutes=minutes), 39.9, 116.4, radius, device, "Beijing, CN")


def scans(devices: int, rank: int | None, **more: object) -> CodeScans:
    return CodeScans(devices, rank, T0, "Kaili, CN", **more)  # type: ignore[arg-type]


def test_the_threshold_counts_devices_and_the_brand_wins() -> None:
    assert clone_signals(scans(4, 4), here=None, brand_threshold=None, rules=RULES) == []
    (signal,) = clone_signals(scans(5, 5), here=None, brand_threshold=None, rules=RULES)
    assert (signal.kind, signal.raises_flag, signal.detail["threshold"]) == (
        SCAN_THRESHOLD_EXCEEDED,
        True,
        4,
    )
    assert "5 different phones" in signal.message
    assert "first scanned 2026-11-30 08:00 UTC in Kaili, CN" in signal.message
    assert clone_signals(scans(5, 5), here=None, brand_threshold=9, rules=RULES) == []
    assert clone_signals(scans(3, 3), here=None, brand_threshold=2, rules=RULES) != []


def test_the_first_device_never_sees_a_clone_signal() -> None:
    flag = flag_of(clone_signals(scans(9, 9), here=None, brand_threshold=None, rules=RULES)[0], T0)
    assert clone_signals(scans(9, 1, flag=flag), here=None, brand_threshold=1, rules=RULES) == []


def test_a_flag_stays_for_every_other_device_and_for_no_device() -> None:
    flag = flag_of(clone_signals(scans(9, 9), here=None, brand_threshold=None, rules=RULES)[0], T0)
    for rank in (2, None):  # a returning second phone; a bulk check
        (signal,) = clone_signals(scans(2, rank, flag=flag), here=None, brand_threshold=None,
                                  rules=RULES)  # fmt: skip
        assert signal.kind == SCAN_THRESHOLD_EXCEEDED
        assert not signal.raises_flag  # already flagged
        assert "Kaili, CN" in signal.message
    assert clone_signals(scans(9, None), here=None, brand_threshold=1, rules=RULES) == []


def test_impossible_travel_is_between_devices_and_allows_for_uncertainty() -> None:
    earlier = scans(1, 2, last_located=SHANGHAI)
    (signal,) = clone_signals(earlier, here=beijing("b" * 32, 30), brand_threshold=None,
                              rules=RULES)  # fmt: skip
    assert (signal.kind, signal.raises_flag) == (IMPOSSIBLE_TRAVEL, True)
    assert "Shanghai, CN then Beijing, CN" in signal.message
    assert 1000 < signal.detail["km"] < 1100
    # One phone is never in two places (GeoIP noise, a VPN): no signal.
    assert clone_signals(earlier, here=beijing("a" * 32, 30), brand_threshold=None,
                         rules=RULES) == []  # fmt: skip
    # Slow enough, or too uncertain (two carrier hubs 600 km wide each), is no travel.
    assert clone_signals(earlier, here=beijing("b" * 32, 200), brand_threshold=None,
                         rules=RULES) == []  # fmt: skip
    wide = scans(1, 2, last_located=Located(T0, 31.2, 121.5, 600, "a" * 32, "hub"))
    assert clone_signals(wide, here=beijing("b" * 32, 30, radius=600), brand_threshold=None,
                         rules=RULES) == []  # fmt: skip


def test_unshipped_batches_signal_until_shipped_or_sold() -> None:
    signal = shipping_signal(["created", "harvested", "packed", "labeled"])
    assert signal is not None
    assert signal.kind == "not_yet_shipped"
    assert shipping_signal(["created", "shipped"]) is None
    assert shipping_signal(["created", "sold"]) is None
