"""The scan recorder: buffered off the request path, flushed in the background, bounded."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import DateTime, Engine, event, text
from sqlmodel import col, select

from registry.core.db import make_engine, unit_of_work
from registry.core.errors import RegistryError
from registry.core.time import as_utc
from registry.main import create_app
from registry.scans.models import Scan, ScanCounter
from registry.scans.records import ScanRecord, ScanRecorder
from tests.factories import World, label_codes, labeled_batch
from tests.verify.helpers import flip_signature_bit, path_of

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
CODE = ("06901234567892", "LOT-1", "00000001")


def scan(at: datetime, serial: str = CODE[2], **extra: object) -> ScanRecord:
    return ScanRecord(CODE[0], CODE[1], serial, at, **extra)  # type: ignore[arg-type]


def counters(engine: Engine) -> dict[str, tuple[int, datetime, datetime]]:
    with unit_of_work(engine) as session:
        return {
            c.serial: (c.count, as_utc(c.first_at), as_utc(c.last_at))
            for c in session.exec(select(ScanCounter))
        }


def scan_rows(engine: Engine) -> list[Scan]:
    with unit_of_work(engine) as session:
        return list(session.exec(select(Scan).order_by(col(Scan.id))))


def test_flush_writes_scans_and_adds_to_counters(engine: Engine) -> None:
    recorder = ScanRecorder(engine)
    recorder.record(scan(T0 + timedelta(minutes=5), lat=26.3, lon=108.5, region="Kaili, CN"))
    recorder.record(scan(T0))
    recorder.record(scan(T0, serial="00000002"))
    assert recorder.buffered == 3
    assert recorder.flush() == 3
    assert recorder.buffered == 0
    assert counters(engine) == {
        "00000001": (2, T0, T0 + timedelta(minutes=5)),
        "00000002": (1, T0, T0),
    }
    recorder.record(scan(T0 - timedelta(days=1)))
    recorder.record(scan(T0 + timedelta(days=1)))
    assert recorder.flush() == 2
    assert counters(engine)["00000001"] == (4, T0 - timedelta(days=1), T0 + timedelta(days=1))
    rows = scan_rows(engine)
    assert len(rows) == 5
    assert (rows[0].lat, rows[0].lon, rows[0].region) == (26.3, 108.5, "Kaili, CN")
    assert recorder.written == 5


def test_a_full_buffer_drops_and_counts_instead_of_blocking(engine: Engine) -> None:
    recorder = ScanRecorder(engine, capacity=3)
    accepted = [recorder.record(scan(T0)) for _ in range(5)]
    assert accepted == [True, True, True, False, False]
    assert recorder.dropped == 2
    assert recorder.buffered == 3
    recorder.flush()
    assert recorder.record(scan(T0)) is True


def test_flushes_are_batched_each_in_its_own_transaction(engine: Engine) -> None:
    recorder = ScanRecorder(engine, max_batch=2)
    for i in range(5):
        recorder.record(scan(T0 + timedelta(seconds=i)))
    assert [recorder.flush() for _ in range(4)] == [2, 2, 1, 0]
    assert counters(engine)["00000001"][0] == 5


def test_the_background_thread_flushes_and_stop_writes_the_rest(engine: Engine) -> None:
    recorder = ScanRecorder(engine, flush_interval=0.05)
    recorder.start()
    recorder.record(scan(T0))
    deadline = time.monotonic() + 10
    while recorder.written < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert recorder.written == 1
    recorder.stop()
    for _ in range(3):
        recorder.record(scan(T0))
    recorder.start()
    recorder.stop()
    assert counters(engine)["00000001"][0] == 4
    assert recorder.buffered == 0


def test_a_failed_flush_keeps_the_scans_for_the_next_one(tmp_path: Path, engine: Engine) -> None:
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    recorder = ScanRecorder(unmigrated)
    recorder.record(scan(T0))
    with pytest.raises(RegistryError):
        recorder.flush()
    assert (recorder.buffered, recorder.failed_flushes) == (1, 1)
    recorder.start()  # the thread logs failures and keeps going
    time.sleep(0.4)
    recorder._engine = engine  # the database comes back
    recorder.stop()
    unmigrated.dispose()
    assert counters(engine)["00000001"][0] == 1


def test_consumer_scans_are_recorded_and_written_at_shutdown(world: World, engine: Engine) -> None:
    _, run = labeled_batch(world, units=10, count=2)
    good, other = label_codes(world, run["run_id"])
    with TestClient(create_app(engine)) as client:
        client.app.state.scan_recorder.stop()  # type: ignore[attr-defined]
        headers = {"Accept": "application/json", "CF-IPCountry": "cn", "User-Agent": "phone"}
        counts = [
            client.get(path_of(good) + "&lat=26.2547&lon=108.51", headers=headers).json()
            for _ in range(3)
        ]
        assert [c["scans"]["count"] for c in counts] == [1, 1, 1]  # one phone, three loads
        assert len({c["scans"]["first_at"] for c in counts}) == 1
        bad = client.get(path_of(flip_signature_bit(other)), headers=headers).json()
        assert bad["verdict"] == "invalid"
        assert bad["scans"] is None
        client.get(path_of(good) + "&lat=north&lon=999", headers=headers)
        assert scan_rows(engine) == []  # nothing written on the request path
    rows = scan_rows(engine)  # the lifespan's shutdown flushed the buffer
    assert len(rows) == 4
    assert {r.serial for r in rows} == {"00000001"}  # invalid codes are not counted
    # Coarse position only; the proxy header is not believed (no trusted proxy configured).
    assert (rows[0].lat, rows[0].lon, rows[0].region, rows[0].country) == (
        26.3,
        108.5,
        "26.3,108.5",
        None,
    )
    assert (rows[3].lat, rows[3].lon) == (None, None)
    assert len({r.client_hash for r in rows}) == 1
    assert counters(engine)["00000001"][0] == 4


def test_devices_and_flags_survive_a_restart_without_redis(world: World, engine: Engine) -> None:
    _, run = labeled_batch(world, units=10, count=1)
    (url,) = label_codes(world, run["run_id"])

    def scan_by(device: int) -> dict[str, Any]:
        with TestClient(create_app(engine)) as client:  # a fresh process each time
            client.app.state.verifier.rules = replace(  # type: ignore[attr-defined]
                client.app.state.verifier.rules,  # type: ignore[attr-defined]
                default_threshold=2,
            )
            headers = {"Accept": "application/json", "Cookie": f"rg_device={device:032x}"}
            return dict(client.get(path_of(url), headers=headers).json())

    first = scan_by(1)
    assert (first["scans"]["count"], first["scans"]["first_by_you"]) == (1, True)
    assert scan_by(2)["scans"]["count"] == 2
    again = scan_by(1)
    assert (again["scans"]["count"], again["verdict"]) == (2, "genuine")
    assert again["scans"]["first_at"] == first["scans"]["first_at"]
    third = scan_by(3)
    assert (third["scans"]["count"], third["verdict"]) == (3, "suspicious")
    # The flag was written as an alert: a restarted process still holds it.
    second = scan_by(2)
    assert (second["verdict"], second["reasons"][0]["code"]) == (
        "suspicious",
        "scan_threshold_exceeded",
    )
    assert scan_by(1)["verdict"] == "genuine"


def test_times_are_stored_as_the_orm_stores_them(engine: Engine) -> None:
    """The recorder writes its own SQL (SQLite: rows as JSON read by `json_each`): on
    SQLite its text must be the text SQLAlchemy's DateTime writes (times compare as text
    there), on both databases the ORM must read back the same instants and find them by
    time."""
    at = [T0, T0 + timedelta(microseconds=7), T0.astimezone(timezone(timedelta(hours=8)))]
    recorder = ScanRecorder(engine)
    for n, when in enumerate(at):
        recorder.record(scan(when, serial=f"0000000{n + 1}"))
    assert recorder.flush() == 3
    assert [as_utc(r.scanned_at) for r in scan_rows(engine)] == at
    with unit_of_work(engine) as session:
        later = session.exec(select(Scan.serial).where(col(Scan.scanned_at) > T0)).all()
        assert later == ["00000002"]
        if engine.dialect.name == "sqlite":
            stored = session.exec(  # type: ignore[call-overload]
                text(
                    "SELECT scanned_at, first_at FROM scans"
                    " JOIN scan_counters USING (serial) ORDER BY scans.id"
                )
            ).all()
            column = DateTime(timezone=True).dialect_impl(engine.dialect)
            write = column.bind_processor(engine.dialect)
            assert write is not None
            assert [tuple(row) for row in stored] == [(write(as_utc(w)),) * 2 for w in at]


def test_a_flush_writes_each_table_in_one_statement(engine: Engine) -> None:
    """A thousand scans are one INSERT and one upsert. On SQLite each is one step of the
    database with the GIL released (rows as JSON, `json_each`): the driver's executemany
    took the GIL back for every row with the write lock held, and appends waited (issue 15).
    What lands is what was recorded, quotes, non-ASCII text, NULLs and floats included."""
    regions = ["Kaili, CN", 'O\'Brien "north" 凯里', None]
    recorded = [
        scan(
            T0 + timedelta(seconds=n),
            serial=f"{n % 250:08d}",
            lat=None if n % 3 == 0 else 26.3 + n / 7,
            lon=None if n % 3 == 0 else -108.123456789,
            region=regions[n % 3],
            device=f"device-{n}",
        )
        for n in range(1000)
    ]
    inserts: list[bool] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        if statement.startswith("INSERT"):
            inserts.append(many)

    recorder = ScanRecorder(engine)
    for record in recorded:
        recorder.record(record)
    assert recorder.flush() == 1000
    event.remove(engine, "before_cursor_execute", _seen)
    assert inserts == ([False, False] if engine.dialect.name == "sqlite" else [True, True])
    rows = scan_rows(engine)
    assert [(r.serial, as_utc(r.scanned_at), r.lat, r.lon, r.region, r.client_hash)
            for r in rows] == [
        (s.serial, s.scanned_at, s.lat, s.lon, s.region, s.device) for s in recorded
    ]  # fmt: skip
    assert counters(engine)["00000007"] == (
        4,
        T0 + timedelta(seconds=7),
        T0 + timedelta(seconds=757),
    )
