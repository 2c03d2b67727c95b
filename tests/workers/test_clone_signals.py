"""Clone signals: the verdict finds them (registry/scans/rules.py) and the scans carry them
to ingestion, which raises one de-duplicated alert per code and kind; and the periodic
chain audit's alert on a broken chain."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select

from registry.alerts.models import Alert
from registry.core.config import get_settings
from registry.core.queue import bound_engine
from registry.scans.stream import drain_scan_stream
from tests.factories import BRAND, World, label_codes, labeled_batch, received, shipped
from tests.verify.helpers import path_of, tamper_event_data
from tests.worker_process import TaskMode

BEIJING = "&lat=39.9042&lon=116.4074"
GUANGZHOU = "&lat=23.1291&lon=113.2644"  # about 1,890 km from Beijing
BEIJING_SUBURB = "&lat=39.95&lon=116.45"


def scan(world: World, url: str, where: str = "", *, device: int = 1) -> dict[str, Any]:
    """A scan by the test phone number `device` (its device cookie)."""
    world.client.cookies.clear()
    r = world.client.get(
        path_of(url) + where,
        headers={"Accept": "application/json", "Cookie": f"rg_device={device:032x}"},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def ingest(world: World, engine: Engine) -> None:
    """Push what the API recorded to the stream and drain it, as the beat-driven task does."""
    recorder = world.client.app.state.scan_recorder  # type: ignore[attr-defined]
    assert recorder.flush() >= 0
    assert recorder.fallback.buffered == 0  # everything went through Redis
    settings = get_settings()
    assert settings.redis_url is not None
    client = redis.Redis.from_url(settings.redis_url)
    drain_scan_stream(
        engine,
        client,
        stream=settings.scan_stream,
        batch_size=100,
    )
    client.close()


def alerts(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Alert.__table__).order_by("kind", "subject"))  # type: ignore[attr-defined]
        return [dict(row._mapping) for row in rows]


def kinds(engine: Engine) -> list[tuple[str, str | None]]:
    return [(a["kind"], a["serial"]) for a in alerts(engine)]


@pytest.fixture
def shipped_run(redis_mode: TaskMode, world: World) -> tuple[dict[str, Any], list[str]]:
    batch, run = labeled_batch(world, units=100, count=4)
    world.ok(batch["id"], world.coop, shipped(world.handler.id, quantity=100))
    world.ok(batch["id"], world.handler, received(world.coop.id, quantity=100))
    return batch, label_codes(world, run["run_id"])


def test_devices_over_the_brand_threshold_raise_one_alert(
    redis_mode: TaskMode,
    world: World,
    engine: Engine,
    shipped_run: tuple[dict[str, Any], list[str]],
) -> None:
    batch, urls = shipped_run
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"scan_alert_threshold": 3})
    assert r.status_code == 200, r.text
    for device in (1, 2, 3, 1, 2, 3, 3):  # reloads of the same phones count once
        assert scan(world, urls[0], device=device)["verdict"] == "genuine"
    scan(world, urls[1], device=4)
    ingest(world, engine)
    assert alerts(engine) == []  # 3 phones of a threshold of 3 are expected

    copied = scan(world, urls[0], device=4)
    assert copied["verdict"] == "suspicious"
    assert copied["scans"]["count"] == 4
    ingest(world, engine)
    (alert,) = alerts(engine)
    assert (alert["kind"], alert["serial"], alert["batch_id"]) == (
        "scan_threshold_exceeded",
        "00000001",
        batch["id"],
    )
    assert alert["subject"] == f"{alert['gtin']}/{alert['lot']}/00000001"
    assert (alert["detail"]["devices"], alert["detail"]["threshold"]) == (4, 3)

    assert scan(world, urls[0], device=2)["verdict"] == "suspicious"  # stays flagged
    assert scan(world, urls[0], device=1)["verdict"] == "genuine"  # the first phone's answer
    ingest(world, engine)
    (again,) = alerts(engine)  # de-duplicated per code and kind
    assert again["id"] == alert["id"]
    assert again["occurrences"] == 2


def test_scans_too_far_apart_for_the_time_between_raise_impossible_travel(
    redis_mode: TaskMode,
    world: World,
    engine: Engine,
    shipped_run: tuple[dict[str, Any], list[str]],
) -> None:
    _, urls = shipped_run
    scan(world, urls[0], BEIJING, device=1)
    scan(world, urls[0], BEIJING_SUBURB, device=2)  # a few km: never travel
    scan(world, urls[1], BEIJING, device=1)
    scan(world, urls[1], GUANGZHOU, device=1)  # one phone is never in two places: no signal
    ingest(world, engine)
    assert alerts(engine) == []

    far = scan(world, urls[0], GUANGZHOU, device=3)  # seconds later, 1,890 km away
    assert [r["code"] for r in far["reasons"]] == ["impossible_travel"]
    later = scan(world, urls[0], device=4)  # no location, but the code stays flagged
    assert [r["code"] for r in later["reasons"]] == ["impossible_travel"]
    assert "first scanned" in later["reasons"][0]["message"]
    assert "39.9,116.4" in later["reasons"][0]["message"]  # where the first phone was
    ingest(world, engine)
    (alert,) = alerts(engine)
    assert (alert["kind"], alert["serial"]) == ("impossible_travel", "00000001")
    assert 1850 < alert["detail"]["km"] < 1950


def test_scans_of_a_batch_not_yet_shipped_raise_an_alert(
    redis_mode: TaskMode, world: World, engine: Engine
) -> None:
    batch, run = labeled_batch(world, units=100, count=2, ship=False)
    urls = label_codes(world, run["run_id"])
    scan(world, urls[0])
    ingest(world, engine)
    assert kinds(engine) == [("not_yet_shipped", "00000001")]

    world.ok(batch["id"], world.coop, shipped(world.handler.id, quantity=100))
    scan(world, urls[1], device=2)  # after shipping: expected
    ingest(world, engine)
    assert kinds(engine) == [("not_yet_shipped", "00000001")]


def test_the_periodic_audit_raises_an_alert_for_a_broken_chain(
    redis_mode: TaskMode, world: World, engine: Engine
) -> None:
    from workers.tasks import audit_recent_batches

    intact, _ = labeled_batch(world, units=10, count=1)
    broken, _ = labeled_batch(world, units=10, count=1)
    with bound_engine(engine):
        assert audit_recent_batches.apply().get() == 0
    assert alerts(engine) == []
    tamper_event_data(engine, broken["id"], 1, '{"quantity": 1, "unit": "kg"}')
    with bound_engine(engine):
        assert audit_recent_batches.apply().get() == 1
        assert audit_recent_batches.apply().get() == 1  # still broken: the same alert
    (alert,) = alerts(engine)
    assert (alert["kind"], alert["batch_id"], alert["subject"]) == (
        "chain_broken",
        broken["id"],
        f"batch:{broken['id']}",
    )
    assert alert["detail"]["seq"] == 1
    assert alert["occurrences"] == 2
    assert intact["id"] != broken["id"]


def test_the_verdict_names_impossible_travel_and_the_buffer_raises_its_alert(
    eager_mode: TaskMode, world: World, engine: Engine
) -> None:
    batch, run = labeled_batch(world, units=10, count=1)
    world.ok(batch["id"], world.coop, shipped(world.handler.id, quantity=10))
    (url,) = label_codes(world, run["run_id"])
    recorder = world.client.app.state.scan_recorder  # type: ignore[attr-defined]
    recorder.stop()  # flushed by hand below
    assert scan(world, url, BEIJING, device=1)["verdict"] == "genuine"
    assert scan(world, url, BEIJING_SUBURB, device=2)["verdict"] == "genuine"
    far = scan(world, url, GUANGZHOU, device=3)  # counted before the answer: no flush needed
    assert far["verdict"] == "suspicious"
    assert [r["code"] for r in far["reasons"]] == ["impossible_travel"]
    assert "km apart" in far["reasons"][0]["message"]
    assert scan(world, url, device=1)["verdict"] == "genuine"  # the first phone keeps its answer
    recorder.flush()  # the in-process buffer writes alerts as the stream drain does
    assert kinds(engine) == [("impossible_travel", "00000001")]


def test_scans_of_an_unshipped_batch_are_suspicious_unless_the_operator_says_otherwise(
    eager_mode: TaskMode, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch, run = labeled_batch(world, units=10, count=1, ship=False)
    (url,) = label_codes(world, run["run_id"])
    early = scan(world, url)
    assert early["verdict"] == "suspicious"
    assert [r["code"] for r in early["reasons"]] == ["not_yet_shipped"]
    verifier = world.client.app.state.verifier  # type: ignore[attr-defined]
    monkeypatch.setattr(
        verifier, "rules", replace(verifier.rules, unshipped_scans_suspicious=False)
    )
    assert scan(world, url)["verdict"] == "genuine"  # alert only
    monkeypatch.undo()
    world.ok(batch["id"], world.coop, shipped(world.handler.id, quantity=10))
    assert scan(world, url)["verdict"] == "genuine"
