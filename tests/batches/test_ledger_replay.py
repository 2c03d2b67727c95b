"""More of the pure ledger (registry/batches/ledger.py): corrections in the middle of a chain,
mass units other than kg, running totals, non-holders, the rounding tolerance's edges, and
the JSON snapshot kept on the batch. No database."""

from __future__ import annotations

from typing import Any

import pytest

from registry.batches.ledger import (
    EPSILON_KG,
    Ledger,
    LedgerError,
    LedgerEvent,
    effective_events,
    replay,
)
from tests.batches.test_ledger import COOP, HANDLER, SHOP, Chain


def demo_chain() -> Chain:
    """The demo's harvest (107 kg in two pickings) with a correction and a voided event
    between them, so anything after a correction must still count."""
    chain = Chain()
    first = chain.harvest(100)
    typo = chain.harvest(40)
    chain.add(
        "correction", seq=first.seq, reason="scale", corrected_data={**first.data, "quantity": 102}
    )
    chain.add("correction", seq=typo.seq, reason="recorded twice")
    chain.harvest(5)
    return chain


def test_events_after_a_correction_or_a_voided_event_still_count() -> None:
    chain = demo_chain()
    state = chain.replay()
    assert state.harvested_kg == 107
    assert state.held_kg == {COOP: 107}
    assert [(e.seq, e.data["quantity"]) for e in effective_events(chain.events)] == [
        (1, 102),
        (5, 5),
    ]


def test_a_voided_event_in_the_middle_drops_only_that_event() -> None:
    chain = Chain()
    chain.harvest(10)
    void = chain.harvest(20)
    chain.harvest(30)
    chain.add("correction", seq=void.seq, reason="never happened")
    chain.harvest(40)
    assert [e.seq for e in effective_events(chain.events)] == [1, 3, 5]
    assert chain.replay().harvested_kg == 80


def test_a_replacement_keeps_the_events_seq_type_and_actor() -> None:
    chain = Chain()
    chain.harvest(10)
    ship = chain.ship(10, HANDLER, unit="kg")
    chain.add(
        "correction", seq=ship.seq, reason="route", corrected_data={**ship.data, "to_org_id": SHOP}
    )
    (_, replaced) = effective_events(chain.events)
    assert replaced == LedgerEvent(ship.seq, "shipped", COOP, {**ship.data, "to_org_id": SHOP})
    state = chain.replay()
    assert dict(state.in_transit_kg) == {(COOP, SHOP): 10}


@pytest.mark.parametrize(
    ("size", "unit", "unit_kg"), [(500, "g", 0.5), (0.25, "t", 250), (5, "kg", 5)]
)
def test_packing_converts_the_unit_size_to_kg(size: float, unit: str, unit_kg: float) -> None:
    chain = Chain()
    chain.harvest(3, "t")
    chain.pack(10, size, unit)
    state = chain.replay()
    assert state.packed_unit_kg == unit_kg
    assert state.packed_kg == 10 * unit_kg
    chain.ship(2, HANDLER)  # two packed units
    assert chain.replay().in_transit_kg[(COOP, HANDLER)] == 2 * unit_kg


def test_harvests_in_grams_and_tonnes_are_weighed_in_kg() -> None:
    chain = Chain()
    chain.harvest(1500, "g")
    assert chain.replay().harvested_kg == 1.5
    chain.harvest(0.5, "t")
    assert chain.replay().held_kg == {COOP: 501.5}


def test_two_packs_are_summed_and_the_first_unit_size_is_the_counted_unit() -> None:
    chain = Chain()
    chain.harvest(100)
    chain.pack(4, 5)
    chain.pack(6, 2)
    state = chain.replay()
    assert (state.packed_units, state.packed_kg, state.packed_unit_kg) == (10, 32, 5)
    chain.add("labeled", count=10)
    assert chain.replay().labels_issued == 10
    # Packing past the harvest names the running total of what is already packed.
    chain.pack(14, 5)
    with pytest.raises(LedgerError) as caught:
        chain.replay()
    assert "70 kg" in caught.value.detail
    assert "100 kg harvested" in caught.value.detail
    assert "32 kg already packed" in caught.value.detail


def test_labels_beyond_the_summed_packs_name_the_counts() -> None:
    chain = Chain()
    chain.harvest(100)
    chain.pack(4, 5)
    chain.add("labeled", count=3)
    chain.add("labeled", count=2)
    with pytest.raises(LedgerError) as caught:
        chain.replay()
    assert caught.value.conflict is True
    detail = caught.value.detail
    assert "2 labels" in detail
    assert "4 units" in detail
    assert "3 labels already issued" in detail


def test_packing_exactly_the_harvest_is_allowed() -> None:
    chain = Chain()
    chain.harvest(100)
    chain.pack(20, 5)
    assert chain.replay().packed_kg == 100


def test_two_shipments_on_one_route_are_summed_and_two_receipts_too() -> None:
    chain = Chain()
    chain.harvest(100)
    chain.pack(20, 5)
    chain.ship(3, HANDLER)
    chain.ship(4, HANDLER)
    state = chain.replay()
    assert dict(state.in_transit_kg) == {(COOP, HANDLER): 35}
    assert state.held_kg[COOP] == 65
    chain.receive(2, COOP, HANDLER)
    chain.receive(5, COOP, HANDLER)
    state = chain.replay()
    assert state.held_kg[HANDLER] == 35
    assert state.in_transit_kg[(COOP, HANDLER)] == 0
    assert state.custodians() == [COOP, HANDLER]


@pytest.mark.parametrize("verb", ["ship", "sell"])
def test_an_organization_that_holds_nothing_can_neither_ship_nor_sell(verb: str) -> None:
    chain = Chain()
    chain.harvest(100)
    if verb == "ship":
        chain.ship(1, SHOP, unit="kg", actor=HANDLER)
    else:
        chain.add("sold", HANDLER, channel="retail", quantity=1, unit="kg")
    with pytest.raises(LedgerError) as caught:
        chain.replay()
    assert caught.value.conflict is True
    assert f"cannot {verb} 1 kg: you hold 0 kg" in caught.value.detail


@pytest.mark.parametrize("verb", ["ship", "sell"])
def test_taking_more_than_held_names_both_quantities(verb: str) -> None:
    chain = Chain()
    chain.harvest(10)
    if verb == "ship":
        chain.ship(12, HANDLER, unit="kg")
    else:
        chain.add("sold", channel="farm gate", quantity=12, unit="kg")
    with pytest.raises(LedgerError) as caught:
        chain.replay()
    assert "12 kg" in caught.value.detail
    assert "hold 10 kg" in caught.value.detail


def tolerance_case(event: str, excess: float) -> Chain:
    """Harvest 0.5 kg, pack it as one unit, and move 0.5 kg plus `excess` in one step."""
    chain = Chain()
    chain.harvest(0.5)
    amount = 0.5 + excess
    if event == "pack":
        chain.pack(1, amount)
    elif event == "ship":
        chain.ship(amount, HANDLER, unit="kg")
    elif event == "sell":
        chain.add("sold", channel="farm gate", quantity=amount, unit="kg")
    else:
        chain.ship(0.5, HANDLER, unit="kg")
        chain.receive(amount, COOP, HANDLER, unit="kg")
    return chain


@pytest.mark.parametrize("event", ["pack", "ship", "sell", "receive"])
def test_an_excess_up_to_the_rounding_tolerance_is_absorbed(event: str) -> None:
    tolerance_case(event, 0).replay()
    tolerance_case(event, EPSILON_KG).replay()
    with pytest.raises(LedgerError):
        tolerance_case(event, 3 * EPSILON_KG).replay()


def test_a_quantity_without_a_unit_is_a_count_of_packed_units() -> None:
    chain = Chain()
    chain.harvest(100)
    chain.add("shipped", quantity=2, to_org_id=HANDLER)
    with pytest.raises(LedgerError) as caught:
        chain.replay()
    assert caught.value.conflict is False
    assert caught.value.detail.startswith("unit ")
    chain.events.insert(
        1, LedgerEvent(9, "packed", COOP, {"units": 10, "unit_size": 5, "unit": "kg"})
    )
    assert chain.replay().in_transit_kg[(COOP, HANDLER)] == 10


def test_the_uninterpretable_unit_is_named() -> None:
    chain = Chain()
    chain.harvest(100)
    chain.add("sold", channel="retail", quantity=2, unit="case")
    with pytest.raises(LedgerError) as caught:
        chain.replay()
    assert caught.value.detail.startswith("case ")
    assert str(caught.value) == caught.value.detail


def test_ledger_error_carries_its_detail_and_is_a_conflict_by_default() -> None:
    error = LedgerError("the detail")
    assert (str(error), error.detail, error.conflict) == ("the detail", "the detail", True)
    assert LedgerError("x", conflict=False).conflict is False


def test_a_harvest_by_another_org_before_shipping_keeps_the_producer_first() -> None:
    chain = Chain()
    chain.add("harvested", "member", quantity=5, unit="kg", harvest_date="2026-11-20")
    state = chain.replay()
    assert state.custodians() == [COOP, "member"]
    assert state.is_custodian(COOP)
    assert state.is_custodian("member")


def test_the_producer_is_no_custodian_once_it_shipped_everything() -> None:
    state = Ledger(COOP, shipped_any=True)
    assert not state.is_custodian(COOP)
    assert state.custodians() == []
    assert not Ledger(COOP).is_custodian(HANDLER)


def test_rounding_dust_is_neither_custody_nor_goods_awaited() -> None:
    state = Ledger(COOP, shipped_any=True)
    state.held_kg[HANDLER] = EPSILON_KG
    state.in_transit_kg[(HANDLER, SHOP)] = EPSILON_KG
    assert not state.is_custodian(HANDLER)
    assert not state.awaits_goods(SHOP)
    assert state.custodians() == []
    assert state.to_json()["held_kg"] == {}
    assert state.to_json()["in_transit_kg"] == []
    state.held_kg[HANDLER] = 2 * EPSILON_KG
    state.in_transit_kg[(HANDLER, SHOP)] = 2 * EPSILON_KG
    assert state.is_custodian(HANDLER)
    assert state.awaits_goods(SHOP)
    assert not state.awaits_goods(HANDLER)  # the sender does not await its own shipment
    assert state.custodians() == [HANDLER]


SNAPSHOT: dict[str, Any] = {
    "cooperative_org_id": COOP,
    "harvested_kg": 100.0,
    "packed_units": 20,
    "packed_kg": 100.0,
    "packed_unit_kg": 5.0,
    "labels_issued": 12,
    "shipped_any": True,
    "recalled": True,
    "held_kg": {COOP: 50.0, HANDLER: 15.0},
    "in_transit_kg": [[COOP, HANDLER, 25.0], [HANDLER, SHOP, 10.0]],
}


def snapshot_chain() -> Chain:
    chain = Chain()
    chain.harvest(100)
    chain.pack(20, 5)
    chain.add("labeled", count=12)
    chain.ship(10, HANDLER)
    chain.receive(5, COOP, HANDLER)
    chain.ship(2, SHOP, actor=HANDLER)
    chain.add("recalled", "owner", reason="residue", scope="lot")
    return chain


def test_the_snapshot_holds_every_figure() -> None:
    assert snapshot_chain().replay().to_json() == SNAPSHOT


def test_a_snapshot_restores_the_same_state() -> None:
    restored = Ledger.from_json(SNAPSHOT)
    replayed = snapshot_chain().replay()
    assert restored.to_json() == SNAPSHOT
    for field in (
        "cooperative_org_id",
        "harvested_kg",
        "packed_units",
        "packed_kg",
        "packed_unit_kg",
        "labels_issued",
        "shipped_any",
        "recalled",
    ):
        assert getattr(restored, field) == getattr(replayed, field), field
    assert dict(restored.held_kg) == dict(replayed.held_kg)
    assert dict(restored.in_transit_kg) == dict(replayed.in_transit_kg)
    # The restored ledger goes on like the replayed one.
    candidate = LedgerEvent(
        99, "received", SHOP, {"quantity": 2, "unit": "box", "from_org_id": HANDLER}
    )
    restored.apply(candidate)
    assert restored.held_kg[SHOP] == 10
    assert dict(restored.in_transit_kg)[(HANDLER, SHOP)] == 0


def test_replay_starts_from_the_named_producer() -> None:
    assert replay("another", []).custodians() == ["another"]
    assert replay("another", []).to_json()["cooperative_org_id"] == "another"
