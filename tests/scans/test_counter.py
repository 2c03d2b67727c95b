"""The in-process device counter after a restart: a new counter over the same database
answers as the one before it did, loading a lot's scanned codes together."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, event

from registry.scans.counter import CodeKey, MemoryDeviceCounter, lot_pages
from registry.scans.history import load_histories, scanned_serials
from registry.scans.records import ScanRecord, ScanRecorder
from registry.scans.rules import SCAN_THRESHOLD_EXCEEDED, CloneSignal, CodeScans, Located, flag_of

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)
GTIN = "06901234567892"
FLAGGED: CodeKey = (GTIN, "LOT-1", "00000003")
NEVER_SCANNED: CodeKey = (GTIN, "LOT-1", "00000099")
# (code, device, region): in order, one minute apart
SCANS: list[tuple[CodeKey, str, str | None]] = [
    ((GTIN, "LOT-1", "00000001"), "phone-a", "Kaili, CN"),
    ((GTIN, "LOT-1", "00000001"), "phone-b", "Guiyang, CN"),
    ((GTIN, "LOT-1", "00000002"), "phone-c", None),
    ((GTIN, "LOT-1", "00000001"), "phone-a", "Kaili, CN"),
    ((GTIN, "LOT-1", "00000001"), "phone-c", None),
    *[((GTIN, "LOT-1", "00000002"), "phone-c", None)] * 4,  # one code, many scans
    (FLAGGED, "phone-a", "Kaili, CN"),
    (FLAGGED, "phone-b", "Shanghai, CN"),
    (FLAGGED, "phone-d", "Beijing, CN"),  # flagged here
    (FLAGGED, "phone-e", None),
    ((GTIN, "LOT-1", "00000004"), "phone-e", "Kaili, CN"),
    ((GTIN, "LOT-2", "00000001"), "phone-a", "Kaili, CN"),
    ((GTIN, "LOT-2", "00000001"), "phone-d", None),
]
SEEN = list(dict.fromkeys((code, device) for code, device, _ in SCANS))
CODES = list(dict.fromkeys(code for code, _ in SEEN))


def counter_over(engine: Engine, **options: Any) -> MemoryDeviceCounter:
    """The counter a process without Redis makes (registry/scans/counter.py)."""
    return MemoryDeviceCounter(
        seed=partial(load_histories, engine),
        lot_serials=partial(scanned_serials, engine),
        **options,
    )


def scanned_before_restart(engine: Engine) -> MemoryDeviceCounter:
    """A process that counted SCANS (and flagged FLAGGED) and recorded them durably."""
    before = counter_over(engine)
    recorder = ScanRecorder(engine)
    for minute, (code, device, region) in enumerate(SCANS):
        at = T0 + timedelta(minutes=minute)
        here = Located(at, 26.6, 107.9, 10.0, device, region) if region else None
        before.observe_now(code, device, at=at, here=here)
        signals: tuple[CloneSignal, ...] = ()
        if code == FLAGGED and device == "phone-d":
            signal = CloneSignal(SCAN_THRESHOLD_EXCEEDED, "copied?", raises_flag=True)
            before.flag_now(code, flag_of(signal, at))
            signals = (signal,)
        recorder.record(ScanRecord(*code, at, region=region, device=device, signals=signals))
    recorder.flush()
    return before


def without_place(scans: CodeScans) -> CodeScans:
    # Where a code was last located is not durable (a restart forgets it, by design).
    return replace(scans, last_located=None)


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on `engine` while the test runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize(
    "options",
    [{}, {"page_scans": 3}, {"max_codes": 2}],
    ids=["lot-wide", "small-pages", "tiny-memory"],
)
def test_a_restarted_counter_answers_as_before(engine: Engine, options: dict[str, int]) -> None:
    before = scanned_before_restart(engine)
    after = counter_over(engine, **options)
    for code, device in SEEN:  # the same device again: its rank, the code's devices, flag
        was = before.observe_now(code, device, at=LATER, here=None)
        now = asyncio.run(after.observe(code, device, at=LATER, here=None))
        assert without_place(now) == without_place(was), (code, device)
    flagged = asyncio.run(after.observe(FLAGGED, "phone-f", at=LATER, here=None))
    assert (flagged.devices, flagged.rank, flagged.first_region) == (5, 5, "Kaili, CN")
    assert flagged.flag is not None
    assert (flagged.flag.kind, flagged.flag.at) == (
        SCAN_THRESHOLD_EXCEEDED,
        T0 + timedelta(minutes=11),
    )
    fresh = asyncio.run(after.observe(NEVER_SCANNED, "phone-a", at=LATER, here=None))
    assert fresh == CodeScans(1, 1, LATER, None, None, None)


def test_a_restarted_counter_peeks_as_before(engine: Engine) -> None:
    before = scanned_before_restart(engine)
    codes = [*CODES, NEVER_SCANNED]
    expected = [without_place(s) for s in before.peek(codes)]
    assert counter_over(engine).peek(codes) == expected
    assert counter_over(engine, page_scans=2).peek(codes) == expected
    assert expected[CODES.index(FLAGGED)].flag is not None


def test_the_first_scan_of_a_lot_loads_its_scanned_codes(
    engine: Engine, statements: list[str]
) -> None:
    scanned_before_restart(engine)
    after = counter_over(engine)
    lot_1 = [code for code in CODES if code[1] == "LOT-1"]
    statements.clear()
    asyncio.run(after.observe(lot_1[0], "phone-z", at=LATER, here=None))
    assert any("scan_counters" in s for s in statements)
    assert any("FROM scans" in s for s in statements)
    statements.clear()
    for code in [*lot_1[1:], NEVER_SCANNED]:
        asyncio.run(after.observe(code, "phone-z", at=LATER, here=None))
    assert statements == []  # held since the lot's first scan, or known to have no history
    asyncio.run(after.observe((GTIN, "LOT-2", "00000001"), "phone-z", at=LATER, here=None))
    assert any("scan_counters" in s for s in statements)  # another lot, read on its own


def test_scans_that_miss_together_share_one_load(engine: Engine, statements: list[str]) -> None:
    before = scanned_before_restart(engine)
    lots_read: list[tuple[str, str]] = []

    def slow_lot_serials(lot: tuple[str, str]) -> dict[str, int]:
        lots_read.append(lot)
        time.sleep(0.2)  # a busy database: every scan below misses while this one reads
        return scanned_serials(engine, lot)

    after = MemoryDeviceCounter(seed=partial(load_histories, engine), lot_serials=slow_lot_serials)
    statements.clear()

    async def scan_all() -> list[CodeScans]:
        return list(
            await asyncio.gather(
                *(after.observe(code, device, at=LATER, here=None) for code, device in SEEN)
            )
        )

    answers = asyncio.run(scan_all())
    assert [without_place(a) for a in answers] == [
        without_place(before.observe_now(code, device, at=LATER, here=None))
        for code, device in SEEN
    ]
    assert sorted(lots_read) == [(GTIN, "LOT-1"), (GTIN, "LOT-2")]  # once per lot
    assert sum("FROM scans" in s for s in statements) == 2  # one page per lot


def test_a_check_across_pages_loads_only_its_codes(engine: Engine, statements: list[str]) -> None:
    scanned_before_restart(engine)
    # LOT-1's serials 1, 2, 3 have 4, 5 and 4 scans: pages (1), (2), (3, 4) of 6 scans at most
    after = counter_over(engine, page_scans=6)
    one, two, three, four = ((GTIN, "LOT-1", f"0000000{n}") for n in range(1, 5))
    assert [s.devices for s in after.peek([one, two])] == [3, 1]
    statements.clear()
    assert after.peek([three])[0].devices == 4  # not loaded with the check above
    assert any("FROM scans" in s for s in statements)
    statements.clear()
    assert after.peek([four])[0].devices == 1  # loaded with its page-mate
    assert statements == []


def test_lot_pages_are_bounded_by_scans_and_codes() -> None:
    counts = {"f": 1, "a": 1, "b": 2, "c": 5, "d": 1, "e": 1}
    pages = lot_pages(counts, max_scans=3, max_codes=2)
    assert pages == {
        "a": ("a", "b"),
        "b": ("a", "b"),
        "c": ("c",),  # more scans than a page holds: loaded alone
        "d": ("d", "e"),
        "e": ("d", "e"),
        "f": ("f",),
    }
    assert lot_pages({}, max_scans=3, max_codes=2) == {}
