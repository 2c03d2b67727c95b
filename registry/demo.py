"""Seeds a realistic county brand for `registry demo`: Rongjiang navel oranges (522632)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlmodel import Session, col, select

from registry.batches.event_types import EVENT_ADAPTER
from registry.batches.schemas import BatchCreate
from registry.batches.service import append_event, create_batch
from registry.brands.models import Brand
from registry.brands.schemas import BrandCreate, LicenseCreate
from registry.brands.service import create_brand, create_license
from registry.core.config import get_settings
from registry.labels.models import LabelRun
from registry.labels.schemas import LabelCodePublic
from registry.labels.service import create_label_run, run_codes
from registry.orgs.models import Organization, OrgKind
from registry.orgs.service import create_api_key, create_org

CST = timezone(timedelta(hours=8))
BRAND_SLUG = "rongjiang-navel-orange"
COUNTY = "522632"
DEMO_LABELS = 20  # a label run for the first batch, so there are codes to scan


@dataclass
class DemoSeed:
    orgs: dict[str, Organization] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    batch_ids: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    created: bool = True


# (key, registered name, English name, kind, county): Chinese organizations are registered
# under their legal Chinese names; English pages show the English one.
_ORGS: list[tuple[str, str, str | None, OrgKind, str | None]] = [
    ("admin", "产地登记系统管理员", "Registry admin", OrgKind.admin, None),
    ("owner", "榕江县脐橙协会", "Rongjiang Navel Orange Association", OrgKind.brand_owner, COUNTY),
    ("coop", "榕江县寨蒿果业专业合作社", "Zhaibian Fruit Cooperative", OrgKind.cooperative, COUNTY),
    (
        "coop2",
        "榕江县车江果园专业合作社",
        "Chejiang Orchard Cooperative",
        OrgKind.cooperative,
        COUNTY,
    ),
    ("handler", "贵阳冷链物流有限公司", "Guiyang Cold Chain Co.", OrgKind.handler, "520102"),
    (
        "regulator",
        "黔东南州市场监督管理局",
        "Qiandongnan Market Regulation Bureau",
        OrgKind.regulator,
        "522601",
    ),
    ("platform", "示例电商平台", "Example Marketplace", OrgKind.platform, None),
]


def _event(
    type_: str,
    when: datetime,
    data: dict[str, Any],
    place: str | None = None,
    en: dict[str, Any] | None = None,
) -> Any:
    """An event whose text is Chinese, with `en` as its English translations."""
    location = {"county_code": COUNTY, "place": place} if place else None
    if en:
        data = {**data, "translations": {"en": en}}
    return EVENT_ADAPTER.validate_python(
        {"type": type_, "event_time": when.isoformat(), "location": location, "data": data}
    )


def _batch_life(
    session: Session, seed: DemoSeed, coop_key: str, lot: str, day: date, kg: int, labels: int
) -> str:
    coop, handler = seed.orgs[coop_key], seed.orgs["handler"]
    batch, _ = create_batch(
        session,
        actor=coop,
        body=BatchCreate(
            brand=BRAND_SLUG,
            lot=lot,
            product="脐橙",
            variety="纽荷尔",
            gtin="06901234567892",
            translations={"en": {"product": "navel orange", "variety": "Newhall"}},
        ),
    )
    t = datetime(day.year, day.month, day.day, 8, 30, tzinfo=CST)
    units = kg // 5
    steps = [
        (
            coop,
            _event(
                "input_applied",
                t - timedelta(days=60),
                {
                    "input_name": "有机肥（腐熟农家肥）",
                    "dose": 2,
                    "dose_unit": "吨/公顷",
                    "pre_harvest_interval_days": 60,
                },
                en={"input_name": "organic compost (well-rotted manure)", "dose_unit": "t/ha"},
            ),
        ),
        (
            coop,
            _event(
                "harvested",
                t,
                {"quantity": kg, "unit": "kg", "harvest_date": day.isoformat(), "plot": "A-12"},
                place="寨蒿镇寨蒿村 A-12 地块",
                en={"place": "Zhaibian village, plot A-12"},
            ),
        ),
        (
            coop,
            _event(
                "inspected",
                t + timedelta(hours=6),
                {
                    "method": "GB 2763 农药多残留筛查",
                    "analytes": ["毒死蜱", "吡虫啉"],
                    "result": "pass",
                    "lab": "黔东南州农产品质量安全检测中心",
                },
                en={
                    "method": "GB 2763 multi-residue pesticide screen",
                    "analytes": ["chlorpyrifos", "imidacloprid"],
                    "lab": "Qiandongnan Agricultural Product Quality Testing Center",
                },
            ),
        ),
        (
            coop,
            _event(
                "cooled",
                t + timedelta(hours=8),
                {"place": "村冷库", "temperature_c": 6},
                en={"place": "village cold room"},
            ),
        ),
        (
            coop,
            _event(
                "packed",
                t + timedelta(days=1),
                {
                    "units": units,
                    "unit_size": 5,
                    "unit": "kg",
                    "packing_site": "寨蒿包装厂",
                },
                en={"packing_site": "Zhaibian packing house"},
            ),
        ),
        (
            coop,
            _event(
                "shipped",
                t + timedelta(days=2),
                {
                    "quantity": units,
                    "unit": "box",
                    "to_org_id": handler.id,
                    "destination": "贵阳",
                },
                en={"destination": "Guiyang"},
            ),
        ),
        (
            handler,
            _event(
                "received",
                t + timedelta(days=2, hours=9),
                {"quantity": units, "unit": "box", "from_org_id": coop.id},
            ),
        ),
        (
            handler,
            _event(
                "stored",
                t + timedelta(days=2, hours=10),
                {"place": "贵阳配送中心 3 号冷库", "conditions": "4-8 °C"},
                en={"place": "Guiyang distribution centre, cold store 3"},
            ),
        ),
    ]
    for actor, event in steps:
        append_event(session, batch_id=batch.id, event=event, actor=actor)
        if event.type == "packed" and labels:
            run = create_label_run(
                session,
                batch_id=batch.id,
                count=labels,
                actor=coop,
                passphrase=get_settings().key_passphrase,
            )
            seed.run_ids.append(run.id)
    return batch.id


def seed_demo(session: Session) -> DemoSeed:
    """Create the demo brand, organizations and batches; on an already seeded database,
    issue fresh API keys for the demo organizations instead (keys are only shown once)."""
    seed = DemoSeed()
    if session.exec(select(Brand).where(Brand.slug == BRAND_SLUG)).first() is not None:
        seed.created = False
        for key, name, _, _, _ in _ORGS:
            org = session.exec(select(Organization).where(Organization.name == name)).first()
            if org is not None:
                seed.orgs[key] = org
                seed.keys[key] = create_api_key(session, org_id=org.id)[1]
        seed.run_ids = list(session.exec(select(LabelRun.id).order_by(col(LabelRun.created_at))))
        return seed
    for key, name, name_en, kind, county in _ORGS:
        seed.orgs[key], seed.keys[key] = create_org(
            session, name=name, name_en=name_en, kind=kind, county_code=county
        )
    owner = seed.orgs["owner"]
    create_brand(
        session,
        owner=owner,
        body=BrandCreate(
            slug=BRAND_SLUG,
            name="Rongjiang Navel Orange",
            name_local="榕江脐橙",
            category="navel orange",
            category_local="脐橙",
            description="Navel oranges grown on the terraced hills along the Duliu river in "
            "Rongjiang county, Guizhou: thin skin, high sugar, harvested from November.",
            description_local="产自贵州省榕江县都柳江两岸梯田山地的脐橙：皮薄、糖度高，"
            "每年十一月起采收。",
            standard="DB52/T 1590 Rongjiang navel orange",
            standard_local="DB52/T 1590 榕江脐橙",
            county_codes=[COUNTY],
        ),
    )
    this_year = date.today().year
    for coop_key in ("coop", "coop2"):
        create_license(
            session,
            slug=BRAND_SLUG,
            actor=owner,
            body=LicenseCreate(
                org_id=seed.orgs[coop_key].id,
                valid_from=date(this_year, 1, 1),
                valid_to=date(this_year + 1, 12, 31),
                annual_quota_kg=200_000,
            ),
        )
    harvest = date(this_year, 11, 20) if date.today() >= date(this_year, 11, 20) else date.today()
    for i, (coop_key, kg) in enumerate([("coop", 5000), ("coop", 3000), ("coop2", 4000)]):
        lot = f"RJ{harvest:%Y-%m%d}-{'ABC'[i]}"
        labels = DEMO_LABELS if i == 0 else 0
        seed.batch_ids.append(
            _batch_life(session, seed, coop_key, lot, harvest - timedelta(days=i), kg, labels)
        )
    return seed


def sample_labels(
    session: Session, seed: DemoSeed, *, base_url: str, count: int = 3
) -> list[LabelCodePublic]:
    """The first few label codes of the demo's label run, for printing and scanning."""
    if not seed.run_ids or "admin" not in seed.orgs:
        return []
    _, codes = run_codes(
        session,
        run_id=seed.run_ids[0],
        actor=seed.orgs["admin"],
        offset=0,
        limit=count,
        base_url=base_url,
        passphrase=get_settings().key_passphrase,
    )
    return codes
