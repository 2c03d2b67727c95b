"""Answers of the audit endpoints: trace, mass balance and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class OrgRef(BaseModel):
    id: str
    name: str
    kind: str


class HarvestStep(BaseModel):
    seq: int
    kg: float
    harvest_date: str
    at: str


class ReceiptStep(BaseModel):
    seq: int
    kg: float
    at: str


class HopPublic(BaseModel):
    """One shipment along the custody path and what of it arrived."""

    from_org: OrgRef
    to_org: OrgRef
    shipped_kg: float
    shipped_at: str
    shipped_seq: int
    reference_doc: str | None
    received_kg: float
    receipts: list[ReceiptStep]


class HoldingPublic(BaseModel):
    org: OrgRef
    kg: float


class StepBack(BaseModel):
    supplier: OrgRef
    harvests: list[HarvestStep]


class BatchTrace(BaseModel):
    batch_id: str
    brand: str
    lot: str
    gtin: str | None
    product: str
    status: str
    one_step_back: StepBack
    one_step_forward: list[HopPublic]
    custody_path: list[HopPublic]
    holders: list[HoldingPublic]
    in_transit_kg: float
    sold: list[HoldingPublic]


class TraceAnswer(BaseModel):
    items: list[BatchTrace]


class DiscrepancyPublic(BaseModel):
    kind: str
    detail: str
    numbers: dict[str, float]
    events: list[dict[str, Any]]


class Totals(BaseModel):
    harvested_kg: float = 0.0
    packed_units: int = 0
    packed_kg: float = 0.0
    labels_issued: int = 0
    shipped_kg: float = 0.0
    received_kg: float = 0.0
    sold_kg: float = 0.0


class BatchBalancePublic(Totals):
    batch_id: str
    lot: str
    gtin: str | None
    status: str
    harvested_kg_in_year: float
    held_kg: dict[str, float]
    in_transit_kg: float
    recalled: bool
    discrepancies: list[DiscrepancyPublic]


class CooperativeBalance(BaseModel):
    org: OrgRef
    # Shown to those who see every batch of the cooperative (regulators, admins, the brand
    # owner, the cooperative itself); None for a handler seeing only some of them.
    quota_kg: float | None
    quota_used_kg: float | None
    totals: Totals
    batches: list[BatchBalancePublic]
    discrepancies: list[DiscrepancyPublic]


class MassBalanceReport(BaseModel):
    brand: str
    year: int
    reconciles: bool
    cooperatives: list[CooperativeBalance]
    discrepancies: list[DiscrepancyPublic]


class AlertPublic(BaseModel):
    id: str
    kind: str
    subject: str
    gtin: str | None
    lot: str | None
    serial: str | None
    batch_id: str | None
    brand_id: str | None
    detail: dict[str, Any]
    occurrences: int
    created_at: datetime
    last_seen_at: datetime
