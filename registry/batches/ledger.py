"""Replays a batch's events into its custody and mass-balance state; pure, no database.

Corrections are applied first: a `correction` that carries `corrected_data` replaces the
named event's data, one without it voids that event. The replay refuses any step that
breaks a mass-balance rule, so replaying existing events plus a candidate tells whether the
candidate may be appended.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from registry.batches.event_types import MASS_UNITS_KG, to_kg

# Quantities are floats in kg; this absorbs rounding of unit conversions.
EPSILON_KG = 1e-6


class LedgerError(Exception):
    """A candidate event breaks mass balance (`conflict`) or cannot be interpreted."""

    def __init__(self, detail: str, *, conflict: bool = True) -> None:
        super().__init__(detail)
        self.detail = detail
        self.conflict = conflict


@dataclass(frozen=True)
class LedgerEvent:
    seq: int
    type: str
    actor_org_id: str
    data: dict[str, Any]


@dataclass
class Ledger:
    cooperative_org_id: str
    harvested_kg: float = 0.0
    packed_units: int = 0
    packed_kg: float = 0.0
    packed_unit_kg: float | None = None
    labels_issued: int = 0
    shipped_any: bool = False
    recalled: bool = False
    held_kg: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    # (from_org, to_org) -> kg shipped but not yet received
    in_transit_kg: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))

    def to_json(self) -> dict[str, Any]:
        """A JSON snapshot, kept on the batch so appends need not replay the whole chain."""
        return {
            "cooperative_org_id": self.cooperative_org_id,
            "harvested_kg": self.harvested_kg,
            "packed_units": self.packed_units,
            "packed_kg": self.packed_kg,
            "packed_unit_kg": self.packed_unit_kg,
            "labels_issued": self.labels_issued,
            "shipped_any": self.shipped_any,
            "recalled": self.recalled,
            "held_kg": {org: kg for org, kg in self.held_kg.items() if kg > EPSILON_KG},
            "in_transit_kg": [
                [src, dst, kg] for (src, dst), kg in self.in_transit_kg.items() if kg > EPSILON_KG
            ],
        }

    @classmethod
    def from_json(cls, snapshot: dict[str, Any]) -> Ledger:
        ledger = cls(
            cooperative_org_id=snapshot["cooperative_org_id"],
            harvested_kg=snapshot["harvested_kg"],
            packed_units=snapshot["packed_units"],
            packed_kg=snapshot["packed_kg"],
            packed_unit_kg=snapshot["packed_unit_kg"],
            labels_issued=snapshot["labels_issued"],
            shipped_any=snapshot["shipped_any"],
            recalled=snapshot["recalled"],
        )
        ledger.held_kg.update(snapshot["held_kg"])
        for src, dst, kg in snapshot["in_transit_kg"]:
            ledger.in_transit_kg[(src, dst)] = kg
        return ledger

    def is_custodian(self, org_id: str) -> bool:
        """Holds some of the goods, or is the producer before anything has shipped."""
        if self.held_kg.get(org_id, 0.0) > EPSILON_KG:
            return True
        return org_id == self.cooperative_org_id and not self.shipped_any

    def awaits_goods(self, org_id: str) -> bool:
        return any(to == org_id and kg > EPSILON_KG for (_, to), kg in self.in_transit_kg.items())

    def custodians(self) -> list[str]:
        orgs = [org for org, kg in self.held_kg.items() if kg > EPSILON_KG]
        if not self.shipped_any and self.cooperative_org_id not in orgs:
            orgs.insert(0, self.cooperative_org_id)
        return orgs

    def _kg(self, data: dict[str, Any]) -> float:
        kg = to_kg(
            float(data["quantity"]), data.get("unit", "unit"), packed_unit_kg=self.packed_unit_kg
        )
        if kg is None:
            raise LedgerError(
                f"{data.get('unit', 'unit')} is a count of packed units, "
                "but the batch has no packed event saying what one unit weighs",
                conflict=False,
            )
        return kg

    def apply(self, event: LedgerEvent) -> None:
        """Apply one effective event, refusing it if it breaks mass balance."""
        data, actor = event.data, event.actor_org_id
        match event.type:
            case "harvested":
                kg = float(data["quantity"]) * MASS_UNITS_KG[data["unit"]]
                self.harvested_kg += kg
                self.held_kg[actor] += kg
            case "packed":
                unit_kg = float(data["unit_size"]) * MASS_UNITS_KG[data["unit"]]
                packed_kg = int(data["units"]) * unit_kg
                if self.packed_kg + packed_kg > self.harvested_kg + EPSILON_KG:
                    raise LedgerError(
                        f"packing {packed_kg:g} kg would exceed the harvest: "
                        f"{self.harvested_kg:g} kg harvested, {self.packed_kg:g} kg already packed"
                    )
                self.packed_units += int(data["units"])
                self.packed_kg += packed_kg
                self.packed_unit_kg = self.packed_unit_kg or unit_kg
            case "labeled":
                count = int(data["count"])
                if self.labels_issued + count > self.packed_units:
                    raise LedgerError(
                        f"{count} labels requested, but {self.packed_units} units are packed "
                        f"and {self.labels_issued} labels already issued"
                    )
                self.labels_issued += count
            case "shipped":
                kg = self._take(actor, data, "ship")
                self.shipped_any = True
                self.in_transit_kg[(actor, data["to_org_id"])] += kg
            case "received":
                kg = self._kg(data)
                route = (data["from_org_id"], actor)
                pending = self.in_transit_kg.get(route, 0.0)
                if kg > pending + EPSILON_KG:
                    raise LedgerError(
                        f"receiving {kg:g} kg from {data['from_org_id']}, "
                        f"but only {pending:g} kg was shipped to you and not yet received"
                    )
                self.in_transit_kg[route] = pending - kg
                self.held_kg[actor] += kg
            case "sold":
                self._take(actor, data, "sell")
            case "recalled":
                self.recalled = True

    def _take(self, actor: str, data: dict[str, Any], verb: str) -> float:
        kg = self._kg(data)
        held = self.held_kg.get(actor, 0.0)
        if kg > held + EPSILON_KG:
            raise LedgerError(f"cannot {verb} {kg:g} kg: you hold {held:g} kg of this batch")
        self.held_kg[actor] = held - kg
        return kg


def effective_events(events: list[LedgerEvent]) -> list[LedgerEvent]:
    """The events with corrections applied: data replaced, or the event voided."""
    replaced: dict[int, dict[str, Any] | None] = {}
    for event in events:
        if event.type == "correction":
            replaced[int(event.data["seq"])] = event.data.get("corrected_data")
    result = []
    for event in events:
        if event.type == "correction":
            continue
        if event.seq in replaced:
            data = replaced[event.seq]
            if data is None:
                continue
            event = LedgerEvent(event.seq, event.type, event.actor_org_id, data)
        result.append(event)
    return result


def replay(cooperative_org_id: str, events: list[LedgerEvent]) -> Ledger:
    """Replay the effective events in order; raises LedgerError at the first broken rule."""
    ledger = Ledger(cooperative_org_id)
    for event in effective_events(events):
        ledger.apply(event)
    return ledger
