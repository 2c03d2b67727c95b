"""Read-only queries behind the public brand page."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import extract, func
from sqlmodel import Session, col, select

from registry.batches.models import Batch, Event
from registry.brands.models import Brand, License, LicenseStatus
from registry.brands.service import get_brand
from registry.orgs.models import Organization


@dataclass(frozen=True)
class BrandOverview:
    brand: Brand
    cooperatives: list[tuple[str, str | None]]  # (registered name, English name)
    # (season year, batch count), newest season first.
    seasons: list[tuple[int, int]]


def licensed_cooperatives(
    session: Session, *, brand_id: str, day: date
) -> list[tuple[str, str | None]]:
    """(Name, English name) of the cooperatives holding an active license valid on `day`,
    sorted by name."""
    names = session.exec(
        select(Organization.name, Organization.name_en)
        .join(License, col(License.org_id) == col(Organization.id))
        .where(
            License.brand_id == brand_id,
            License.status == LicenseStatus.active,
            License.valid_from <= day,
            License.valid_to >= day,
        )
        .distinct()
    )
    return sorted(names)


def batches_by_season(session: Session, *, brand_id: str) -> list[tuple[int, int]]:
    """Batch counts per season: the year of a batch's first `harvest_date`, or, for a batch
    not yet harvested, the year it was registered. Newest season first."""
    harvest_date = col(Event.data)["harvest_date"].as_string()
    first_harvest = (
        select(
            col(Event.batch_id),
            # ISO dates sort as text, so min() is the first harvest; 1..4 is its year.
            func.substr(func.min(harvest_date), 1, 4).label("season"),
        )
        .join(Batch, col(Batch.id) == col(Event.batch_id))
        .where(Batch.brand_id == brand_id, Event.type == "harvested")
        .group_by(col(Event.batch_id))
        .subquery()
    )
    counts: Counter[int] = Counter()
    harvested = session.exec(
        select(first_harvest.c.season, func.count()).group_by(first_harvest.c.season)
    )
    for year, count in harvested:
        counts[int(year)] += count
    registered = session.exec(
        select(extract("year", col(Batch.created_at)), func.count())
        .where(
            Batch.brand_id == brand_id,
            col(Batch.id).not_in(select(first_harvest.c.batch_id)),
        )
        .group_by(extract("year", col(Batch.created_at)))
    )
    for year, count in registered:
        counts[int(year)] += count
    return sorted(counts.items(), reverse=True)


def brand_overview(session: Session, *, slug: str, today: date) -> BrandOverview:
    """Everything the brand page shows; raises BrandNotFound for an unknown slug."""
    brand = get_brand(session, slug)
    return BrandOverview(
        brand=brand,
        cooperatives=licensed_cooperatives(session, brand_id=brand.id, day=today),
        seasons=batches_by_season(session, brand_id=brand.id),
    )
