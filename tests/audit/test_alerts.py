"""Refused writes become alerts (in their own transaction), and GET /v1/audit/alerts lists
them with every other alert, per caller, keyset-paginated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from registry.alerts.models import Alert, AlertKind, batch_subject
from registry.alerts.service import AlertSignal, raise_alerts
from registry.core.db import unit_of_work
from tests.audit.scenario import YEAR, Scenario, harvest
from tests.dbtools import assert_error, unchanged
from tests.factories import BRAND


def _rows(engine: Engine) -> list[Alert]:
    with unit_of_work(engine) as session:
        return list(session.exec(select(Alert).order_by(Alert.created_at)).scalars())  # type: ignore[call-overload]


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Alert.__table__)).scalar_one())  # type: ignore[attr-defined]


def test_a_refused_write_changes_nothing_but_raises_one_alert(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    assert_error(s.refused_harvest, 409, "QuotaExceeded", "21000 kg")
    (alert,) = _rows(s.engine)
    assert (alert.kind, alert.batch_id, alert.occurrences) == ("quota_exceeded", s.a2, 1)
    assert alert.detail["error"] == "QuotaExceeded"
    assert alert.detail["status"] == 409
    assert "21000 kg" in alert.detail["message"]
    assert alert.detail["org_id"] == w.coop.id
    assert alert.detail["request"] == f"POST /v1/batches/{s.a2}/events"
    # The same attempt again: the registry's records unchanged, the alert counts it.
    with unchanged(s.engine):
        r = w.append(s.a2, w.coop, harvest(6000, "11-13"))
    assert_error(r, 409, "QuotaExceeded")
    (alert,) = _rows(s.engine)
    assert alert.occurrences == 2
    # Another rule refused: another alert, exactly one.
    before = _count(s.engine)
    with unchanged(s.engine):
        r = w.append(s.a1, w.coop, harvest(10, "11-20", county="520102"))
    assert_error(r, 422, "OutsideProductionArea")
    assert _count(s.engine) == before + 1
    kinds = {a.kind for a in _rows(s.engine)}
    assert kinds == {"quota_exceeded", "outside_production_area"}
    # Reads, unauthenticated calls and payload errors raise none.
    w.call("GET", f"/v1/batches/{s.a1}", w.platform)
    w.call("POST", f"/v1/batches/{s.a1}/events", None, json={})
    w.append(s.a1, w.coop, {"type": "stored"})
    assert _count(s.engine) == before + 1


def _list(s: Scenario, org: Any, **params: Any) -> dict[str, Any]:
    r = s.world.call("GET", "/v1/audit/alerts", org, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_alerts_list_per_caller_and_filters(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    with unit_of_work(s.engine, write=True) as session:
        raise_alerts(
            session,
            [
                AlertSignal(
                    kind=AlertKind.chain_broken,
                    subject=batch_subject(s.b1),
                    batch_id=s.b1,
                    detail={"message": "chain fails its audit at event 2"},
                    seen_at=datetime.now(UTC) + timedelta(seconds=1),
                )
            ],
        )
    everything = _list(s, w.regulator)
    assert [a["kind"] for a in everything["items"]] == ["chain_broken", "quota_exceeded"]
    assert everything["next_cursor"] is None
    (quota,) = [a for a in everything["items"] if a["kind"] == "quota_exceeded"]
    assert (quota["batch_id"], quota["occurrences"]) == (s.a2, 1)
    assert "21000 kg" in quota["detail"]["message"]

    def kinds(org: Any, **params: Any) -> list[str]:
        return [a["kind"] for a in _list(s, org, **params)["items"]]

    assert kinds(w.admin) == ["chain_broken", "quota_exceeded"]
    assert kinds(w.owner) == ["quota_exceeded"]  # its brand's; B1 is wuchang-rice's
    assert kinds(w.coop) == ["quota_exceeded"]
    assert kinds(w.coop3) == ["chain_broken"]  # B1's producer
    assert kinds(w.owner2) == ["chain_broken"]  # its brand's batch B1
    # Party to A2 (shipped to it) and B1 (received it).
    assert kinds(w.handler) == ["chain_broken", "quota_exceeded"]
    assert kinds(w.handler2) == []
    assert kinds(w.regulator, kind="chain_broken") == ["chain_broken"]
    assert kinds(w.regulator, brand=BRAND) == ["quota_exceeded"]
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert kinds(w.regulator, since=later) == []
    assert_error(
        w.call("GET", "/v1/audit/alerts", w.owner2, params={"brand": BRAND}), 403, "Forbidden"
    )


def test_alerts_are_keyset_paginated(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    for county in ("520102", "520103", "520111"):
        w.append(s.a1, w.coop, harvest(10, "11-20", county=county))  # same alert subject
    for days in (2, 3, 4):  # three more distinct refusals (future dates)
        ahead = (datetime.now(UTC) + timedelta(days=days)).isoformat()
        w.append(s.a3, w.coop2, {**harvest(1, "10-01"), "event_time": ahead})
        w.append(s.a1, w.handler2, harvest(1, "10-01"))
    every = _list(s, w.regulator, limit=500)["items"]
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = _list(s, w.regulator, **params)
        pages.extend(page["items"])
        assert len(page["items"]) <= 2
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [a["id"] for a in pages] == [a["id"] for a in every]
    assert len(every) == len({a["id"] for a in every}) >= 4
    created = [a["created_at"] for a in every]
    assert created == sorted(created, reverse=True)
    assert_error(
        w.call("GET", "/v1/audit/alerts", w.regulator, params={"cursor": "bm90LWEtY3Vyc29y"}),
        422,
        "InvalidCursor",
    )
    r = w.call("GET", "/v1/audit/alerts", w.regulator, params={"limit": 501})
    assert_error(r, 422, "ValidationError")
    assert YEAR
