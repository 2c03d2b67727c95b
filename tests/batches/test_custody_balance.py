"""Custody (who may append when), mass balance, and corrections, over HTTP.

DESIGN.md: the cooperative appends until it ships; `shipped` names the receiver, which may
then append `received` and becomes the custodian; brand owners and regulators may recall
(403 otherwise). Shipped <= held and packed <= harvested (409 with the numbers). A
correction names an existing earlier seq of the same batch (422).
"""

from __future__ import annotations

from typing import Any

from tests.dbtools import assert_error, unchanged
from tests.factories import World, harvested, packed, recalled, received, shipped, stored


def _sold(quantity: float, unit: str = "box") -> dict[str, Any]:
    return {
        "type": "sold",
        "event_time": "2026-11-26T10:00:00+08:00",
        "data": {"channel": "Guiyang market", "quantity": quantity, "unit": unit},
    }


def _correction(seq: int, corrected_data: Any = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"seq": seq, "reason": "typo", **extra}
    if corrected_data is not None:
        data["corrected_data"] = corrected_data
    return {"type": "correction", "event_time": "2026-11-25T10:00:00+08:00", "data": data}


def _packed_batch(world: World) -> str:
    """A batch of 5000 kg harvested and packed as 1000 boxes of 5 kg, held by the coop."""
    batch_id = str(world.new_batch()["id"])
    world.ok(batch_id, world.coop, harvested(5000))
    world.ok(batch_id, world.coop, packed(1000, 5))
    return batch_id


def _refused(world: World, batch_id: str, org: Any, event: dict[str, Any], *expect: Any) -> str:
    with unchanged(world.engine):
        r = world.append(batch_id, org, event)
    return assert_error(r, *expect)


# --- custody --------------------------------------------------------------------------


def test_handler_cannot_append_before_shipment(world: World) -> None:
    b = _packed_batch(world)
    _refused(world, b, world.handler, stored(), 403, "NotCustodian", "does not hold")
    _refused(world, b, world.handler, received(world.coop.id), 403, "NotCustodian")
    # Nor may another cooperative, even one licensed for the same brand.
    _refused(world, b, world.coop2, stored(), 403, "NotCustodian")


def test_shipment_hands_custody_to_the_named_receiver(world: World) -> None:
    b = _packed_batch(world)
    ship = world.ok(b, world.coop, shipped(world.handler.id, 1000))
    assert ship["data"]["to_org_id"] == world.handler.id
    # Only the named receiver may receive; the handler can read the batch once named.
    _refused(world, b, world.handler2, received(world.coop.id), 403, "NotCustodian")
    assert world.call("GET", f"/v1/batches/{b}", world.handler).status_code == 200
    assert world.call("GET", f"/v1/batches/{b}", world.handler2).status_code == 403
    # Before receipt the handler holds nothing and may record nothing else.
    _refused(world, b, world.handler, stored(), 403, "NotCustodian")
    world.ok(b, world.handler, received(world.coop.id, 1000))
    world.ok(b, world.handler, stored())
    # The coop shipped everything: it no longer holds the batch.
    _refused(world, b, world.coop, stored(), 403, "NotCustodian", "does not hold")
    # The producer's own steps stay with the producer, even for the custodian.
    _refused(world, b, world.handler, harvested(10), 403, "NotCustodian", "producing")
    _refused(world, b, world.handler, packed(1, 1), 403, "NotCustodian", "producing")
    # The handler passes it on.
    world.ok(b, world.handler, shipped(world.handler2.id, 400))
    world.ok(b, world.handler2, received(world.handler.id, 400))
    world.ok(b, world.handler2, _sold(400))
    world.ok(b, world.handler, stored("what is left"))  # still holds 600 boxes
    listed = world.call("GET", "/v1/batches", world.handler2).json()["items"]
    assert [x["id"] for x in listed] == [b]


def test_partial_shipment_keeps_the_coop_a_custodian(world: World) -> None:
    b = _packed_batch(world)
    world.ok(b, world.coop, shipped(world.handler.id, 600))
    world.ok(b, world.coop, stored("packing house"))
    world.ok(b, world.coop, shipped(world.handler2.id, 400))
    _refused(world, b, world.coop, stored(), 403, "NotCustodian")


def test_shipment_must_name_another_known_org(world: World) -> None:
    b = _packed_batch(world)
    _refused(world, b, world.coop, shipped("no-such-org"), 422, "InvalidInput", "to_org_id")
    _refused(world, b, world.coop, shipped(world.coop.id), 422, "InvalidInput", "to_org_id")


def test_brand_owner_and_regulator_may_recall(world: World) -> None:
    for who in ("owner", "regulator"):
        b = _packed_batch(world)
        world.ok(b, world.coop, shipped(world.handler.id))
        event = world.ok(b, world.orgs[who], recalled())
        assert event["type"] == "recalled"
        assert event["actor_org_id"] == world.orgs[who].id
        batch = world.call("GET", f"/v1/batches/{b}", world.coop).json()
        assert batch["status"] == "recalled"
        assert batch["head"] == {"seq": event["seq"], "hash": event["hash"]}


def test_others_may_not_recall(world: World) -> None:
    b = _packed_batch(world)
    world.ok(b, world.coop, shipped(world.handler.id))
    for who in ("coop", "handler", "owner2"):
        _refused(world, b, world.orgs[who], recalled(), 403, "NotCustodian", "recall")
    for who in ("admin", "platform"):
        _refused(world, b, world.orgs[who], recalled(), 403, "Forbidden")
    assert world.call("GET", f"/v1/batches/{b}", world.coop).json()["status"] == "open"


REGISTRY_ONLY = [
    {
        "type": "created",
        "event_time": "2026-11-20T08:30:00+08:00",
        "data": {"brand": "rongjiang-navel-orange", "lot": "FAKE", "product": "orange"},
    },
    {
        "type": "labeled",
        "event_time": "2026-11-20T08:30:00+08:00",
        "data": {
            "run_id": "r1",
            "first_serial": "1",
            "last_serial": "9",
            "count": 9,
            "key_id": "abcd",
        },
    },
]


def test_registry_only_events_are_refused_from_clients(world: World) -> None:
    b = _packed_batch(world)
    for event in REGISTRY_ONLY:
        _refused(world, b, world.coop, event, 403, "Forbidden", "registry only")
        _refused(world, b, world.owner, event, 403, "Forbidden", "registry only")


def test_unknown_batch_is_404(world: World) -> None:
    _refused(world, "no-such-batch", world.coop, stored(), 404, "BatchNotFound")
    r = world.call("GET", "/v1/batches/no-such-batch/audit", world.regulator)
    assert_error(r, 404, "BatchNotFound")


# --- mass balance ---------------------------------------------------------------------


def test_ship_more_than_held(world: World) -> None:
    b = _packed_batch(world)
    _refused(
        world, b, world.coop, shipped(world.handler.id, 1001), 409, "MassBalanceExceeded",
        "5005 kg", "5000 kg",
    )  # fmt: skip
    _refused(
        world, b, world.coop, shipped(world.handler.id, 5.5, "t"), 409, "MassBalanceExceeded",
        "5500 kg", "5000 kg",
    )  # fmt: skip
    world.ok(b, world.coop, shipped(world.handler.id, 999))
    _refused(world, b, world.coop, _sold(2), 409, "MassBalanceExceeded", "10 kg", "5 kg")


def test_receive_more_than_shipped(world: World) -> None:
    b = _packed_batch(world)
    world.ok(b, world.coop, shipped(world.handler.id, 300))
    _refused(
        world, b, world.handler, received(world.coop.id, 301), 409, "MassBalanceExceeded",
        "1505 kg", "1500 kg",
    )  # fmt: skip
    world.ok(b, world.handler, received(world.coop.id, 200))
    # The rest of the shipment may still arrive, but no more than that.
    _refused(
        world, b, world.handler, received(world.coop.id, 101), 409, "MassBalanceExceeded",
        "500 kg",
    )  # fmt: skip
    world.ok(b, world.handler, received(world.coop.id, 100))
    # Handler ships on no more than it received.
    _refused(
        world, b, world.handler, shipped(world.handler2.id, 301), 409, "MassBalanceExceeded",
        "1500 kg",
    )  # fmt: skip


def test_pack_more_than_harvested(world: World) -> None:
    b = str(world.new_batch()["id"])
    world.ok(b, world.coop, harvested(5000))
    _refused(world, b, world.coop, packed(1001, 5), 409, "MassBalanceExceeded", "5005", "5000")
    world.ok(b, world.coop, packed(600, 5))
    _refused(world, b, world.coop, packed(401, 5), 409, "MassBalanceExceeded", "3000 kg")
    world.ok(b, world.coop, packed(400, 5))


def test_counted_units_need_a_packed_event(world: World) -> None:
    b = str(world.new_batch()["id"])
    world.ok(b, world.coop, harvested(5000))
    _refused(world, b, world.coop, shipped(world.handler.id, 10), 422, "InvalidInput", "packed")
    # Mass units need no packing.
    world.ok(b, world.coop, shipped(world.handler.id, 2000, "kg"))
    world.ok(b, world.handler, received(world.coop.id, 2, "t"))


# --- corrections ----------------------------------------------------------------------


def test_correction_names_an_existing_earlier_seq(world: World) -> None:
    b = _packed_batch(world)  # seqs 0 created, 1 harvested, 2 packed
    _refused(world, b, world.coop, _correction(3), 422, "InvalidCorrection", "data.seq", "3")
    _refused(world, b, world.coop, _correction(99), 422, "InvalidCorrection", "data.seq")
    _refused(world, b, world.coop, _correction(0), 422, "InvalidCorrection", "created")
    r = world.append(b, world.coop, _correction(-1))
    assert_error(r, 422, "ValidationError", "data.seq")
    fix = world.ok(b, world.coop, _correction(2))
    _refused(world, b, world.coop, _correction(fix["seq"]), 422, "InvalidCorrection", "correction")


def test_corrected_data_is_validated_against_the_target_type(world: World) -> None:
    b = _packed_batch(world)
    bad_quantity = {"quantity": -1, "unit": "kg", "harvest_date": "2026-11-20"}
    _refused(
        world, b, world.coop, _correction(1, bad_quantity), 422, "InvalidCorrection",
        "corrected_data.quantity",
    )  # fmt: skip
    unknown_field = {**harvested()["data"], "colour": "orange"}
    _refused(
        world, b, world.coop, _correction(1, unknown_field), 422, "InvalidCorrection",
        "corrected_data.colour",
    )  # fmt: skip
    # A packed event's data is not a harvest's.
    _refused(
        world, b, world.coop, _correction(2, harvested()["data"]), 422, "InvalidCorrection",
        "corrected_data",
    )  # fmt: skip
    _refused(world, b, world.coop, packed(1, 5), 409, "MassBalanceExceeded")
    ok = world.ok(b, world.coop, _correction(2, {"units": 900, "unit": "kg", "unit_size": 5.0}))
    assert ok["data"]["corrected_data"] == {"units": 900, "unit_size": 5.0, "unit": "kg"}
    # The corrected event still stands as it was recorded: the chain is never edited.
    events = world.call("GET", f"/v1/batches/{b}/events", world.coop).json()["items"]
    assert events[2]["data"]["units"] == 1000
    # The corrected packing (900 boxes, 4500 kg) is what mass balance now counts.
    _refused(world, b, world.coop, packed(101, 5), 409, "MassBalanceExceeded", "4500 kg")
    world.ok(b, world.coop, packed(100, 5))


def test_only_the_author_may_correct(world: World) -> None:
    b = _packed_batch(world)
    world.ok(b, world.coop, shipped(world.handler.id, 1000))
    receipt = world.ok(b, world.handler, received(world.coop.id, 1000))
    for who in ("handler", "coop2"):
        _refused(world, b, world.orgs[who], _correction(1), 403, "NotCustodian", "recorded")
    _refused(world, b, world.coop, _correction(receipt["seq"]), 403, "NotCustodian")
    _refused(world, b, world.regulator, _correction(1), 403, "NotCustodian")
    # The coop no longer holds the goods but may still correct what it recorded.
    world.ok(b, world.coop, _correction(1, harvested(5200)["data"]))
    world.ok(b, world.handler, _correction(receipt["seq"], received(world.coop.id, 990)["data"]))


def test_correction_voiding_a_shipment_returns_the_goods(world: World) -> None:
    b = _packed_batch(world)
    ship = world.ok(b, world.coop, shipped(world.handler.id, 1000))
    _refused(world, b, world.coop, stored(), 403, "NotCustodian")
    world.ok(b, world.coop, _correction(ship["seq"]))
    world.ok(b, world.coop, stored())
    _refused(world, b, world.handler, received(world.coop.id, 1), 403, "NotCustodian")
