"""Seeds a load-test database through the service layer and writes the data file the Locust
scenarios read: genuine, forged and recalled label codes, and cooperatives' API keys.

Everything goes through `registry.*.service` functions in `unit_of_work`, so the database
holds what the API would have written: hash-chained events, label runs under mass balance,
codes signed with the registry's own (encrypted) label key.

    .venv/bin/python -m loadtests.seed --database-url sqlite:///loadtests/out/load.db \
        --codes 40000 --out loadtests/out/data.json
"""

from __future__ import annotations

import argparse
import os
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Engine
from sqlmodel import Session

from registry.batches.event_types import EVENT_ADAPTER
from registry.batches.schemas import BatchCreate
from registry.batches.service import append_event, create_batch
from registry.brands.schemas import BrandCreate, LicenseCreate
from registry.brands.service import create_brand, create_license
from registry.codes.digital_link import decode_digsig, encode_digsig, parse_url
from registry.core.config import get_settings
from registry.core.db import make_engine, unit_of_work
from registry.core.identifiers import gs1_check_digit
from registry.labels.service import create_label_run, run_codes
from registry.migrate import upgrade
from registry.orgs.models import Organization, OrgKind
from registry.orgs.service import create_org

# Brands, counties and products that look like the registry's real users.
BRANDS = [
    ("rongjiang-navel-orange", "Rongjiang Navel Orange", "榕江脐橙", "navel orange", "522632"),
    ("wuchang-rice", "Wuchang Rice", "五常大米", "rice", "230184"),
    ("anxi-tieguanyin", "Anxi Tieguanyin", "安溪铁观音", "oolong tea", "350524"),
    ("ningxia-goji", "Zhongning Goji", "中宁枸杞", "goji berry", "640521"),
]
UNIT_KG = 5.0
MAX_RUN = 5000  # codes signed per run_codes page while seeding


@dataclass
class CooperativeData:
    """A cooperative's API key and the batches it holds (targets of `stored` events)."""

    name: str
    api_key: str
    batches: list[str]


@dataclass
class SeedData:
    """The data file's content. Codes are label URL paths with their query (`/01/...?8030=`),
    so the scenarios can aim them at any host."""

    created_at: str
    database: str
    genuine: list[str] = field(default_factory=list)
    forged: list[str] = field(default_factory=list)
    recalled: list[str] = field(default_factory=list)
    cooperatives: list[CooperativeData] = field(default_factory=list)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))


def gtin_for(index: int) -> str:
    """A valid GTIN-14 (GS1 check digit) under a made-up Chinese company prefix (690...)."""
    body = f"0690{1234500 + index:07d}00"[:13]
    return body + str(gs1_check_digit(body))


def _event(body: dict[str, Any]) -> Any:
    return EVENT_ADAPTER.validate_python(body)


def _at(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+08:00"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def forge(path: str) -> str:
    """The same label with one bit of its Ed25519 signature flipped (a tampered DIGSIG)."""
    code = parse_url(path)
    key_id, signature = decode_digsig(code.digsig)
    forged = encode_digsig(key_id, bytes([signature[0] ^ 0x01]) + signature[1:])
    return path.replace(code.digsig, forged)


def _labelled_batch(
    session: Session,
    *,
    coop: Organization,
    handler: Organization,
    owner: Organization,
    slug: str,
    county: str,
    lot: str,
    gtin: str,
    labels: int,
    today: date,
    recall: bool,
) -> tuple[str, str]:
    """A batch from inputs to the handler's receipt, with one label run of `labels` codes;
    returns (batch id, run id). `recall` appends the owner's recall after labelling."""
    batch, _ = create_batch(
        session,
        actor=coop,
        body=BatchCreate(brand=slug, lot=lot, product=slug.split("-")[-1], gtin=gtin),
    )
    harvest_day = today - timedelta(days=7)
    kg = labels * UNIT_KG
    for body in (
        {
            "type": "input_applied",
            "event_time": _at(harvest_day - timedelta(days=60), 9),
            "location": {"county_code": county, "place": "plot A-12"},
            "data": {"input_name": "organic compost", "dose": 2, "dose_unit": "t/ha"},
        },
        {
            "type": "harvested",
            "event_time": _at(harvest_day, 8),
            "location": {"county_code": county, "place": "plot A-12"},
            "data": {"quantity": kg, "unit": "kg", "harvest_date": harvest_day.isoformat()},
        },
        {
            "type": "inspected",
            "event_time": _at(harvest_day, 15),
            "data": {"method": "GB 2763", "analytes": ["chlorpyrifos"], "result": "pass"},
        },
        {
            "type": "cooled",
            "event_time": _at(harvest_day + timedelta(days=1), 7),
            "data": {"place": "village cold room", "temperature_c": 6},
        },
        {
            "type": "packed",
            "event_time": _at(harvest_day + timedelta(days=1), 14),
            "data": {"units": labels, "unit_size": UNIT_KG, "unit": "kg"},
        },
    ):
        append_event(session, batch_id=batch.id, event=_event(body), actor=coop)
    run = create_label_run(
        session,
        batch_id=batch.id,
        count=labels,
        actor=coop,
        passphrase=get_settings().key_passphrase,
    )
    ship_day = harvest_day + timedelta(days=2)
    append_event(
        session,
        batch_id=batch.id,
        event=_event(
            {
                "type": "shipped",
                "event_time": _at(ship_day, 6),
                "data": {"quantity": labels, "unit": "box", "to_org_id": handler.id},
            }
        ),
        actor=coop,
    )
    append_event(
        session,
        batch_id=batch.id,
        event=_event(
            {
                "type": "received",
                "event_time": _at(ship_day, 18),
                "data": {"quantity": labels, "unit": "box", "from_org_id": coop.id},
            }
        ),
        actor=handler,
    )
    if recall:
        append_event(
            session,
            batch_id=batch.id,
            event=_event(
                {
                    "type": "recalled",
                    "event_time": _at(ship_day + timedelta(days=1), 10),
                    "data": {"reason": "pesticide residue retest failed", "scope": "whole lot"},
                }
            ),
            actor=owner,
        )
    return batch.id, run.id


def _held_batch(
    session: Session, *, coop: Organization, slug: str, county: str, lot: str, today: date
) -> str:
    """A harvested batch the cooperative still holds, for the `stored` events of the run."""
    batch, _ = create_batch(
        session, actor=coop, body=BatchCreate(brand=slug, lot=lot, product=slug.split("-")[-1])
    )
    day = today - timedelta(days=1)
    append_event(
        session,
        batch_id=batch.id,
        event=_event(
            {
                "type": "harvested",
                "event_time": _at(day, 8),
                "location": {"county_code": county},
                "data": {"quantity": 1000, "unit": "kg", "harvest_date": day.isoformat()},
            }
        ),
        actor=coop,
    )
    return batch.id


def _codes(session: Session, *, run_id: str, coop: Organization, count: int) -> list[str]:
    settings = get_settings()
    paths: list[str] = []
    for offset in range(0, count, MAX_RUN):
        _, page = run_codes(
            session,
            run_id=run_id,
            actor=coop,
            offset=offset,
            limit=MAX_RUN,
            base_url=settings.public_url,
            passphrase=settings.key_passphrase,
        )
        paths.extend(_path(c.url) for c in page)
    return paths


def bench_cooperative(session: Session, *, slug: str = "bench") -> tuple[Organization, str]:
    """A brand in county 522632 and a cooperative licensed for it with no practical quota;
    returns the cooperative and its API key (the small benchmarks' common start)."""
    owner, _ = create_org(session, name="owner", kind=OrgKind.brand_owner)
    coop, coop_key = create_org(session, name="coop", kind=OrgKind.cooperative)
    create_brand(
        session,
        owner=owner,
        body=BrandCreate(slug=slug, name="Bench", category="orange", county_codes=["522632"]),
    )
    today = date.today()
    create_license(
        session,
        slug=slug,
        actor=owner,
        body=LicenseCreate(
            org_id=coop.id,
            valid_from=today - timedelta(days=365),
            valid_to=today + timedelta(days=730),
            annual_quota_kg=1e12,
        ),
    )
    return coop, coop_key


def seed(
    engine: Engine,
    *,
    codes: int = 40_000,
    brands: int = 2,
    cooperatives: int = 3,
    batches_per_cooperative: int = 4,
    recall_every: int = 8,
    forged: int = 4000,
    scan_threshold: int = 2**31 - 1,
    rng_seed: int = 5,
) -> SeedData:
    """Brands with owners, licensed cooperatives, labelled batches (every `recall_every`-th
    recalled) holding about `codes` label codes in all, and one held batch per cooperative.

    `scan_threshold` is the brands' alert threshold: a load test scans each code many times,
    which would otherwise (rightly) turn genuine codes `suspicious`.
    """
    if not 1 <= brands <= len(BRANDS):
        raise ValueError(f"brands must be 1..{len(BRANDS)}")
    today = datetime.now(UTC).date()
    labelled = brands * cooperatives * batches_per_cooperative
    per_batch = max(1, codes // labelled)
    data = SeedData(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        database=engine.url.render_as_string(hide_password=True),
    )
    recalled_runs: list[tuple[str, Organization]] = []
    genuine_runs: list[tuple[str, Organization]] = []
    serial_no = 0
    for b, (slug, name, local, category, county) in enumerate(BRANDS[:brands]):
        with unit_of_work(engine, write=True) as session:
            owner, _ = create_org(
                session, name=f"{name} Association", kind=OrgKind.brand_owner, county_code=county
            )
            handler, _ = create_org(session, name=f"{name} Cold Chain Co.", kind=OrgKind.handler)
            create_brand(
                session,
                owner=owner,
                body=BrandCreate(
                    slug=slug,
                    name=name,
                    name_local=local,
                    category=category,
                    county_codes=[county],
                    scan_alert_threshold=scan_threshold,
                ),
            )
            for c in range(cooperatives):
                coop, key = create_org(
                    session,
                    name=f"{name} Cooperative {c + 1}",
                    kind=OrgKind.cooperative,
                    county_code=county,
                )
                create_license(
                    session,
                    slug=slug,
                    actor=owner,
                    body=LicenseCreate(
                        org_id=coop.id,
                        valid_from=today - timedelta(days=365),
                        valid_to=today + timedelta(days=730),
                        annual_quota_kg=1e12,
                    ),
                )
                for n in range(batches_per_cooperative):
                    serial_no += 1
                    # Every `recall_every`-th batch, and the last one if none was yet.
                    recall = serial_no % recall_every == 0 or (
                        serial_no == labelled and not recalled_runs
                    )
                    _, run_id = _labelled_batch(
                        session,
                        coop=coop,
                        handler=handler,
                        owner=owner,
                        slug=slug,
                        county=county,
                        lot=f"L{today:%Y%m%d}-{b}{c:02d}{n:03d}",
                        gtin=gtin_for(b),
                        labels=per_batch,
                        today=today,
                        recall=recall,
                    )
                    (recalled_runs if recall else genuine_runs).append((run_id, coop))
                held = _held_batch(
                    session, coop=coop, slug=slug, county=county, lot=f"H{b}{c:02d}", today=today
                )
                data.cooperatives.append(
                    CooperativeData(name=coop.name, api_key=key, batches=[held])
                )
    with unit_of_work(engine) as session:
        for run_id, coop in genuine_runs:
            data.genuine.extend(_codes(session, run_id=run_id, coop=coop, count=per_batch))
        for run_id, coop in recalled_runs:
            data.recalled.extend(_codes(session, run_id=run_id, coop=coop, count=per_batch))
    rng = random.Random(rng_seed)
    rng.shuffle(data.genuine)
    rng.shuffle(data.recalled)
    data.forged = [forge(p) for p in rng.sample(data.genuine, min(forged, len(data.genuine)))]
    return data


def main() -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=env("REGISTRY_DATABASE_URL", "sqlite:///loadtests/out/load.db"),
        help="a fresh or migrated database (migrations are applied)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(env("REGISTRY_LOAD_DATA", "loadtests/out/data.json"))
    )
    parser.add_argument("--codes", type=int, default=int(env("REGISTRY_LOAD_CODES", "40000")))
    parser.add_argument("--brands", type=int, default=2)
    parser.add_argument("--cooperatives", type=int, default=3)
    parser.add_argument("--batches-per-cooperative", type=int, default=4)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    started = time.perf_counter()
    upgrade(engine)
    data = seed(
        engine,
        codes=args.codes,
        brands=args.brands,
        cooperatives=args.cooperatives,
        batches_per_cooperative=args.batches_per_cooperative,
    )
    engine.dispose()
    data.write(args.out)
    print(
        f"seeded {len(data.genuine)} genuine, {len(data.recalled)} recalled, "
        f"{len(data.forged)} forged codes and {len(data.cooperatives)} cooperatives "
        f"in {time.perf_counter() - started:.1f} s -> {args.out}"
    )


if __name__ == "__main__":
    main()
