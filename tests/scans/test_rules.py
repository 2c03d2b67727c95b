"""The clone rules alone (registry/scans/rules.py): pure, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registry.core.config import Settings
from registry.scans.rules import (
    FLAG_MESSAGES,
    IMPOSSIBLE_TRAVEL,
    NOT_YET_SHIPPED,
    SCAN_THRESHOLD_EXCEEDED,
    CloneRules,
    CloneSignal,
    CodeScans,
    Flag,
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


def test_rules_come_from_the_settings() -> None:
    settings = Settings(
        scan_alert_threshold=7,
        max_travel_kmh=500,
        min_travel_km=20,
        unshipped_scans_suspicious=False,
    )
    assert CloneRules.from_settings(settings) == CloneRules(7, 500, 20, False)
    assert CloneRules.from_settings(settings).threshold(None) == 7
    assert CloneRules.from_settings(settings).threshold(3) == 3


def test_a_threshold_signal_carries_its_evidence() -> None:
    (signal,) = clone_signals(scans(6, 6), here=None, brand_threshold=None, rules=RULES)
    assert signal.detail == {
        "devices": 6,
        "first_at": "2026-11-30T08:00:00+00:00",
        "first_region": "Kaili, CN",
        "threshold": 4,
    }
    assert "6 different phones" in signal.message
    assert "than the 4 one package" in signal.message
    # Where the first scan was not located, the evidence says when but not where.
    (unplaced,) = clone_signals(CodeScans(6, 6, T0), here=None, brand_threshold=None, rules=RULES)
    assert unplaced.message.endswith("; first scanned 2026-11-30 08:00 UTC")
    assert unplaced.detail["first_region"] is None
    # With no first scan known there is no evidence to add.
    (bare,) = clone_signals(CodeScans(6, 6), here=None, brand_threshold=None, rules=RULES)
    assert bare.message.endswith("it may have been copied")
    assert (bare.detail["first_at"], bare.detail["first_region"]) == (None, None)


def test_a_stored_flag_is_shown_with_its_evidence() -> None:
    flag = Flag(IMPOSSIBLE_TRAVEL, T0, "seen too far apart")
    (signal,) = clone_signals(scans(3, 2, flag=flag), here=None, brand_threshold=None, rules=RULES)
    assert signal == CloneSignal(
        IMPOSSIBLE_TRAVEL,
        "seen too far apart; first scanned 2026-11-30 08:00 UTC in Kaili, CN",
        detail={"devices": 3, "first_at": "2026-11-30T08:00:00+00:00", "first_region": "Kaili, CN"},
        raises_flag=False,
    )


def test_an_impossible_move_carries_distance_time_and_places() -> None:
    earlier = scans(1, 2, last_located=SHANGHAI)
    (signal,) = clone_signals(
        earlier, here=beijing("b" * 32, 45), brand_threshold=None, rules=RULES
    )
    assert signal.detail == {
        "devices": 1,
        "first_at": "2026-11-30T08:00:00+00:00",
        "first_region": "Kaili, CN",
        "km": 1071.3,
        "hours": 0.75,
        "from": "Shanghai, CN",
        "to": "Beijing, CN",
    }
    assert signal.message.startswith("this code was scanned 1071 km apart 45 min apart")
    (quick,) = clone_signals(
        earlier, here=beijing("b" * 32, 0.123), brand_threshold=None, rules=RULES
    )
    assert quick.detail["hours"] == 0.0021  # 7.38 s, to four places


def test_a_flag_keeps_a_short_message_of_its_kind() -> None:
    (threshold,) = clone_signals(scans(9, 9), here=None, brand_threshold=None, rules=RULES)
    flag = flag_of(threshold, T0)
    assert (flag.kind, flag.at) == (SCAN_THRESHOLD_EXCEEDED, T0)
    assert flag.message == FLAG_MESSAGES[SCAN_THRESHOLD_EXCEEDED]
    assert "9" not in flag.message  # the count is added per answer, from the evidence
    moved = CloneSignal(IMPOSSIBLE_TRAVEL, "long story")
    assert flag_of(moved, T0).message == FLAG_MESSAGES[IMPOSSIBLE_TRAVEL]
    other = CloneSignal(NOT_YET_SHIPPED, "not shipped")
    assert flag_of(other, T0) == Flag(NOT_YET_SHIPPED, T0, "not shipped")
