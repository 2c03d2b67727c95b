"""Mass balance and custody of one batch, replayed from its chain; pure.

The rules are the ledger's (registry/batches/ledger.py): the replay applies each effective
event with `Ledger.apply`, and where the ledger would refuse a step (data that reached the
chain without passing the rules, e.g. before a rule existed) the step is reported as a
discrepancy with its numbers and left out, instead of stopping the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from registry.batches.event_types import MASS_UNITS_KG, to_kg
from registry.batches.ledger import EPSILON_KG, Ledger, LedgerError, LedgerEvent, effective_events

DISCREPANCY_KINDS = {
    "packed": "packed_beyond_harvested",
    "labeled": "labels_beyond_packed",
    "shipped": "shipped_beyond_held",
    "sold": "sold_beyond_held",
    "received": "received_without_shipment",
}


@dataclass(frozen=True)
class TimedEvent:
    """A chain event with what a report shows about it besides the ledger's view."""

    event: LedgerEvent
    event_time: str  # RFC 3339 in the event's own offset


@dataclass
class Discrepancy:
    kind: str
    detail: str
    numbers: dict[str, float]
    events: list[dict[str, Any]]  # [{"batch_id", "seq", "type"}]


@dataclass
class Hop:
    """One shipment and what of it was received."""

    from_org_id: str
    to_org_id: str
    shipped_kg: float
    shipped_at: str
    shipped_seq: int
    reference_doc: str | None
    received_kg: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)  # [{"seq","kg","at"}]


@dataclass
class BatchBalance:
    batch_id: str
    cooperative_org_id: str
    harvested_kg: float = 0.0
    harvested_kg_by_year: dict[int, float] = field(default_factory=dict)
    harvests: list[dict[str, Any]] = field(default_factory=list)
    packed_units: int = 0
    packed_kg: float = 0.0
    labels_issued: int = 0
    shipped_kg: float = 0.0
    received_kg: float = 0.0
    sold_kg: float = 0.0
    sold_by_org: dict[str, float] = field(default_factory=dict)
    held_kg: dict[str, float] = field(default_factory=dict)
    in_transit_kg: float = 0.0
    recalled: bool = False
    hops: list[Hop] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)


def _numbers(ledger: Ledger, event: LedgerEvent, kg: float | None) -> dict[str, float]:
    data = event.data
    match event.type:
        case "packed":
            unit_kg = float(data["unit_size"]) * MASS_UNITS_KG[data["unit"]]
            return {
                "packing_kg": int(data["units"]) * unit_kg,
                "harvested_kg": ledger.harvested_kg,
                "already_packed_kg": ledger.packed_kg,
            }
        case "labeled":
            return {
                "labels": int(data["count"]),
                "packed_units": ledger.packed_units,
                "labels_already_issued": ledger.labels_issued,
            }
        case "received":
            route = (data["from_org_id"], event.actor_org_id)
            return {"kg": kg or 0.0, "in_transit_kg": ledger.in_transit_kg.get(route, 0.0)}
        case _:
            return {"kg": kg or 0.0, "held_kg": ledger.held_kg.get(event.actor_org_id, 0.0)}


def replay_balance(batch_id: str, cooperative_org_id: str, chain: list[TimedEvent]) -> BatchBalance:
    """Replay a batch's chain (corrections applied) into its balance, custody hops and
    discrepancies."""
    times = {t.event.seq: t.event_time for t in chain}
    ledger = Ledger(cooperative_org_id)
    balance = BatchBalance(batch_id, cooperative_org_id)
    for event in effective_events([t.event for t in chain]):
        data = event.data
        kg = None
        if "quantity" in data:
            unit = data.get("unit", "unit")
            kg = to_kg(float(data["quantity"]), unit, packed_unit_kg=ledger.packed_unit_kg)
        try:
            ledger.apply(event)
        except LedgerError as exc:
            balance.discrepancies.append(
                Discrepancy(
                    kind=DISCREPANCY_KINDS.get(event.type, "uninterpretable")
                    if exc.conflict
                    else "uninterpretable",
                    detail=exc.detail,
                    numbers=_numbers(ledger, event, kg),
                    events=[{"batch_id": batch_id, "seq": event.seq, "type": event.type}],
                )
            )
            continue
        _account(balance, event, kg or 0.0, times.get(event.seq, ""))
    balance.harvested_kg = ledger.harvested_kg
    balance.packed_units = ledger.packed_units
    balance.packed_kg = ledger.packed_kg
    balance.labels_issued = ledger.labels_issued
    balance.recalled = ledger.recalled
    balance.held_kg = {o: kg for o, kg in ledger.held_kg.items() if kg > EPSILON_KG}
    balance.in_transit_kg = sum(kg for kg in ledger.in_transit_kg.values() if kg > EPSILON_KG)
    return balance


def _account(balance: BatchBalance, event: LedgerEvent, kg: float, at: str) -> None:
    data = event.data
    match event.type:
        case "harvested":
            year = int(str(data["harvest_date"])[:4])
            harvest_kg = float(data["quantity"]) * MASS_UNITS_KG[data["unit"]]
            by_year = balance.harvested_kg_by_year
            by_year[year] = by_year.get(year, 0.0) + harvest_kg
            balance.harvests.append(
                {"seq": event.seq, "kg": harvest_kg, "harvest_date": data["harvest_date"], "at": at}
            )
        case "shipped":
            balance.shipped_kg += kg
            balance.hops.append(
                Hop(
                    from_org_id=event.actor_org_id,
                    to_org_id=data["to_org_id"],
                    shipped_kg=kg,
                    shipped_at=at,
                    shipped_seq=event.seq,
                    reference_doc=data.get("reference_doc"),
                )
            )
        case "received":
            balance.received_kg += kg
            _match_receipt(balance, data["from_org_id"], event.actor_org_id, kg, event.seq, at)
        case "sold":
            balance.sold_kg += kg
            org = event.actor_org_id
            balance.sold_by_org[org] = balance.sold_by_org.get(org, 0.0) + kg


def _match_receipt(balance: BatchBalance, src: str, dst: str, kg: float, seq: int, at: str) -> None:
    """Receipts fill the oldest open shipments on their route first."""
    left = kg
    for hop in balance.hops:
        if left <= EPSILON_KG:
            break
        if (hop.from_org_id, hop.to_org_id) != (src, dst):
            continue
        take = min(left, hop.shipped_kg - hop.received_kg)
        if take <= EPSILON_KG:
            continue
        hop.received_kg += take
        hop.received.append({"seq": seq, "kg": take, "at": at})
        left -= take
