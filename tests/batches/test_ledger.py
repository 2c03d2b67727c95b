"""The pure custody and mass-balance replay (registry/batches/ledger.py), no database."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from registry.batches.ledger import Ledger, LedgerError, LedgerEvent, effective_events, replay

COOP, HANDLER, SHOP = "coop", "handler", "shop"


class Chain:
    """Builds LedgerEvents with increasing seqs, starting after the `created` event."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self.events: list[LedgerEvent] = []

    def add(self, type_: str, actor: str = COOP, **data: Any) -> LedgerEvent:
        event = LedgerEvent(next(self._seq), type_, actor, data)
        self.events.append(event)
        return event

    def harvest(self, kg: float, unit: str = "kg") -> LedgerEvent:
        return self.add("harvested", quantity=kg, unit=unit, harvest_date="2026-11-20")

    def pack(self, units: int, size: float = 5, unit: str = "kg") -> LedgerEvent:
        return self.add("packed", units=units, unit_size=size, unit=unit)

    def ship(self, qty: float, to: str, unit: str = "box", actor: str = COOP) -> LedgerEvent:
        return self.add("shipped", actor, quantity=qty, unit=unit, to_org_id=to)

    def receive(self, qty: float, src: str, actor: str, unit: str = "box") -> LedgerEvent:
        return self.add("received", actor, quantity=qty, unit=unit, from_org_id=src)

    def replay(self) -> Ledger:
        return replay(COOP, self.events)


def test_harvest_and_packing_are_tallied() -> None:
    chain = Chain()
    chain.harvest(2, "t")
    chain.harvest(500_000, "g")
    chain.pack(300, 5)
    state = chain.replay()
    assert state.harvested_kg == 2500
    assert (state.packed_units, state.packed_kg, state.packed_unit_kg) == (300, 1500, 5)
    assert state.held_kg == {COOP: 2500}


def test_packing_more_than_harvested_is_a_conflict_with_the_numbers() -> None:
    chain = Chain()
    chain.harvest(1000)
    chain.pack(150, 5)
    chain.pack(51, 5)
    with pytest.raises(LedgerError, match="packing 255 kg") as caught:
        chain.replay()
    assert caught.value.conflict is True
    assert "1000 kg harvested, 750 kg already packed" in caught.value.detail


def test_labels_never_exceed_packed_units() -> None:
    chain = Chain()
    chain.harvest(1000)
    chain.pack(100, 5)
    chain.add("labeled", count=60)
    chain.add("labeled", count=40)
    assert chain.replay().labels_issued == 100
    chain.add("labeled", count=1)
    with pytest.raises(LedgerError, match="1 labels requested, but 100 units are packed"):
        chain.replay()


def test_counted_units_convert_through_the_packed_unit() -> None:
    chain = Chain()
    chain.harvest(1000)
    chain.pack(200, 5)
    chain.ship(150, HANDLER)  # 750 kg
    state = chain.replay()
    assert state.held_kg[COOP] == 250
    assert state.in_transit_kg[(COOP, HANDLER)] == 750
    chain.ship(51, SHOP)  # 255 kg > 250 kg held
    with pytest.raises(LedgerError, match="cannot ship 255 kg: you hold 250 kg") as caught:
        chain.replay()
    assert caught.value.conflict is True


def test_counted_units_before_packing_are_not_interpretable() -> None:
    chain = Chain()
    chain.harvest(1000)
    chain.ship(10, HANDLER, unit="case")
    with pytest.raises(LedgerError, match="no packed event") as caught:
        chain.replay()
    assert caught.value.conflict is False  # 422, not 409


def test_receipt_is_limited_to_what_was_shipped_to_the_receiver() -> None:
    chain = Chain()
    chain.harvest(1000)
    chain.pack(200, 5)
    chain.ship(100, HANDLER)
    chain.receive(60, COOP, HANDLER)
    state = chain.replay()
    assert state.in_transit_kg[(COOP, HANDLER)] == 200
    assert state.held_kg[HANDLER] == 300
    chain.receive(41, COOP, HANDLER)
    with pytest.raises(LedgerError, match="receiving 205 kg from coop, but only 200 kg"):
        chain.replay()
    # Nothing is in transit from the coop to the shop, or from the handler to anyone.
    for src, actor in ((COOP, SHOP), (HANDLER, HANDLER)):
        other = Chain()
        other.harvest(1000)
        other.pack(200, 5)
        other.ship(100, HANDLER)
        other.receive(1, src, actor)
        with pytest.raises(LedgerError, match="only 0 kg"):
            other.replay()


def test_custody_follows_the_goods() -> None:
    chain = Chain()
    assert chain.replay().is_custodian(COOP)  # before any harvest the producer holds it
    chain.harvest(1000)
    chain.pack(200, 5)
    state = chain.replay()
    assert state.is_custodian(COOP)
    assert not state.is_custodian(HANDLER)
    assert state.custodians() == [COOP]
    chain.ship(200, HANDLER)
    state = chain.replay()
    assert not state.is_custodian(COOP)
    assert not state.is_custodian(HANDLER)  # shipped to, but not yet received
    assert state.awaits_goods(HANDLER)
    assert not state.awaits_goods(SHOP)
    assert state.custodians() == []
    chain.receive(200, COOP, HANDLER)
    state = chain.replay()
    assert state.is_custodian(HANDLER)
    assert not state.awaits_goods(HANDLER)
    assert state.custodians() == [HANDLER]
    chain.ship(50, SHOP, actor=HANDLER)
    chain.receive(50, HANDLER, SHOP)
    chain.add("sold", SHOP, channel="retail", quantity=50, unit="box")
    state = chain.replay()
    assert state.custodians() == [HANDLER]
    assert not state.is_custodian(SHOP)


def test_sale_takes_from_what_the_seller_holds() -> None:
    chain = Chain()
    chain.harvest(10)
    chain.add("sold", channel="farm gate", quantity=4, unit="kg")
    assert chain.replay().held_kg[COOP] == 6
    chain.add("sold", channel="farm gate", quantity=7, unit="kg")
    with pytest.raises(LedgerError, match="cannot sell 7 kg: you hold 6 kg"):
        chain.replay()


def test_float_rounding_is_absorbed() -> None:
    chain = Chain()
    for _ in range(3):
        chain.harvest(0.1)
    chain.ship(0.3, HANDLER, unit="kg")  # 0.1 + 0.1 + 0.1 != 0.3 in binary floating point
    chain.receive(0.3, COOP, HANDLER, unit="kg")
    state = chain.replay()
    assert not state.is_custodian(COOP)
    assert state.is_custodian(HANDLER)


def test_recall_is_recorded_without_touching_quantities() -> None:
    chain = Chain()
    chain.harvest(10)
    chain.add("recalled", "owner", reason="residue", scope="lot")
    state = chain.replay()
    assert state.recalled is True
    assert state.held_kg == {COOP: 10}


def test_corrections_replace_or_void_the_named_event() -> None:
    chain = Chain()
    first = chain.harvest(1000)
    second = chain.harvest(200)
    chain.add(
        "correction", seq=first.seq, reason="typo", corrected_data={**first.data, "quantity": 900}
    )
    chain.add("correction", seq=second.seq, reason="never happened")
    effective = effective_events(chain.events)
    assert [(e.seq, e.type, e.data["quantity"]) for e in effective] == [(1, "harvested", 900)]
    assert chain.replay().harvested_kg == 900
    # The latest correction of an event wins.
    chain.add(
        "correction", seq=first.seq, reason="again", corrected_data={**first.data, "quantity": 950}
    )
    assert chain.replay().harvested_kg == 950


def test_a_correction_that_breaks_mass_balance_is_refused() -> None:
    chain = Chain()
    first = chain.harvest(1000)
    chain.pack(200, 5)
    chain.add(
        "correction", seq=first.seq, reason="typo", corrected_data={**first.data, "quantity": 999}
    )
    with pytest.raises(LedgerError, match="packing 1000 kg would exceed the harvest") as caught:
        chain.replay()
    assert caught.value.conflict is True


def test_a_voided_shipment_returns_the_goods() -> None:
    chain = Chain()
    chain.harvest(1000)
    chain.pack(200, 5)
    ship = chain.ship(200, HANDLER)
    chain.add("correction", seq=ship.seq, reason="truck never left")
    state = chain.replay()
    assert state.is_custodian(COOP)
    assert not state.awaits_goods(HANDLER)
    assert state.held_kg[COOP] == 1000
