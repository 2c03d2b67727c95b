"""Refused writes become alerts (in their own transaction), and GET /v1/audit/alerts lists
them with every other alert, per caller, keyset-paginated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from registry.alerts.models import Alert, AlertKind, batch_subject
from registry.alerts.service import AlertSignal, raise_alerts
from registry.core.db import unit_of_work
from tests.audit.scenario import YEAR, Scenario, ev, harvest
from tests.dbtools import assert_error, unchanged
from tests.factories import BRAND, GTIN


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


def _item(batch_id: str, key: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"batch_id": batch_id, "idempotency_key": key, "event": event}


def test_refused_outbox_items_raise_alerts_in_the_sync_transaction(scenario: Scenario) -> None:
    s, w = scenario, scenario.world
    (quota,) = _rows(s.engine)  # the scenario's refused quota breach, one attempt
    assert quota.occurrences == 1
    stored = ev("stored", "11-20", {"place": "cold store 4"})
    items = [
        _item(s.a2, "q-1", harvest(6000, "11-13")),  # 409 QuotaExceeded
        _item(s.a1, "area-1", harvest(10, "11-20", county="520102")),  # 422 outside the area
        _item(s.a1, "ok-1", stored),  # created
        _item(s.a2, "q-2", harvest(7000, "11-14")),  # the same refusal again: 409
        _item(s.a1, "bad-1", {"type": "stored"}),  # malformed: not a rule's refusal
    ]
    r = w.call("POST", "/v1/sync", w.coop, json={"items": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["status_code"], x["error"]) for x in results] == [
        (409, "QuotaExceeded"),
        (422, "OutsideProductionArea"),
        (201, None),
        (409, "QuotaExceeded"),
        (422, "ValidationError"),
    ]
    rows = {a.kind: a for a in _rows(s.engine)}
    assert set(rows) == {"quota_exceeded", "outside_production_area"}
    # One attempt per refused item: the two quota items fold into the scenario's alert.
    assert (rows["quota_exceeded"].id, rows["quota_exceeded"].occurrences) == (quota.id, 3)
    area = rows["outside_production_area"]
    assert (area.batch_id, area.brand_id, area.gtin, area.occurrences) == (
        s.a1,
        quota.brand_id,
        GTIN,
        1,
    )
    # The evidence of a whole-request refusal, and the item's idempotency key.
    assert set(area.detail) == set(quota.detail) | {"idempotency_key"}
    assert area.detail["request"] == "POST /v1/sync"
    assert area.detail["idempotency_key"] == "area-1"
    assert (area.detail["error"], area.detail["status"]) == ("OutsideProductionArea", 422)
    assert area.detail["org_id"] == w.coop.id
    assert "520102" in area.detail["message"]

    # The outbox sent again: its created item answers `duplicate`, which raises nothing;
    # the refused ones count again; a rule refusing another org (403) raises its own.
    before = _count(s.engine)
    r = w.call("POST", "/v1/sync", w.coop, json={"items": [items[2]]})
    assert [x["status"] for x in r.json()["results"]] == ["duplicate"]
    assert _count(s.engine) == before
    r = w.call(
        "POST", "/v1/sync", w.handler2, json={"items": [_item(s.a1, "h-1", harvest(1, "11-20"))]}
    )
    (refused,) = r.json()["results"]
    assert refused["status_code"] == 403, refused
    assert _count(s.engine) == before + 1
    (theirs,) = [a for a in _rows(s.engine) if a.detail["org_id"] == w.handler2.id]
    assert (theirs.kind, theirs.batch_id, theirs.detail["error"]) == (
        "write_refused",
        s.a1,
        refused["error"],
    )
    # Another error of the same caller on the same batch is another alert.
    sold = ev("sold", "11-21", {"channel": "market", "quantity": 1, "unit": "box"})
    reused = _item(s.a1, "h-2", {**sold, "data": {**sold["data"], "quantity": 2}})
    r = w.call("POST", "/v1/sync", w.handler2, json={"items": [_item(s.a1, "h-2", sold), reused]})
    assert [x["status_code"] for x in r.json()["results"]] == [201, 409]
    errors = sorted(
        a.detail["error"] for a in _rows(s.engine) if a.detail["org_id"] == w.handler2.id
    )
    assert errors == sorted([refused["error"], r.json()["results"][1]["error"]])
    assert len(set(errors)) == 2

    # Listed to a regulator, not to a cooperative party to none of the batches.
    listed = _list(s, w.regulator)["items"]
    (seen,) = [a for a in listed if a["kind"] == "outside_production_area"]
    assert (seen["batch_id"], seen["detail"]["idempotency_key"]) == (s.a1, "area-1")
    assert next(a for a in listed if a["kind"] == "quota_exceeded")["occurrences"] == 3
    assert _list(s, w.coop3)["items"] == []
    assert _list(s, w.coop2)["items"] == []
