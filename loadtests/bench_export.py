"""Benchmark: audit export throughput (events/s) and peak memory, EPCIS and CSV, on
PostgreSQL.

Seeds a fresh database with valid hash-chained events written directly (batches of ten
events: created, harvested, inspected, cooled, packed, labeled (20 serials), stored,
shipped, received, sold; each hashed with the registry's chain rule), then exports the
whole brand in a fresh subprocess per format and size, writing to /dev/null, and reports
events/s and the process's peak RSS above its RSS just before the export began.

    .venv/bin/python -m loadtests.bench_export [--sizes 100000,1000000]

The database is REGISTRY_LOAD_PG_URL (dropped and created again). On a shared machine,
seed at low priority and measure at normal priority, one database per size:

    nice -n 19 .venv/bin/python -m loadtests.bench_export --seed 1000000 --url URL
    .venv/bin/python -m loadtests.bench_export --measure csv --url URL   # and epcis
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, insert, text

from loadtests.seed import bench_cooperative
from loadtests.server import PG_URL, fresh_database
from registry.batches.chain import GENESIS_HASH, event_body, link_hash
from registry.batches.ledger import Ledger
from registry.batches.models import Batch, Event
from registry.core.db import make_engine, unit_of_work
from registry.core.ids import new_id
from registry.migrate import upgrade
from registry.orgs.models import OrgKind
from registry.orgs.service import create_org

SLUG = "bench"
INSERT_CHUNK = 20_000


def _chain(batch_id: str, coop: str, handler: str, start: datetime) -> list[dict[str, Any]]:
    """Ten valid events of one batch, as rows, linked by the chain rule."""
    specs: list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = [
        ("created", coop, None, {"brand": SLUG, "lot": batch_id[:20], "product": "navel orange", "gtin": "06901234567892"}),  # noqa: E501
        ("harvested", coop, {"county_code": "522632", "place": "plot A-12"}, {"quantity": 5000, "unit": "kg", "harvest_date": start.date().isoformat(), "plot": "A-12"}),  # noqa: E501
        ("inspected", coop, None, {"method": "GB 2763", "analytes": ["chlorpyrifos"], "result": "pass", "certificate_ref": "CERT-1"}),  # noqa: E501
        ("cooled", coop, None, {"place": "pre-cooling room", "temperature_c": 5}),
        ("packed", coop, None, {"units": 1000, "unit_size": 5, "unit": "kg"}),
        ("labeled", coop, None, {"run_id": new_id(), "first_serial": "00000001", "last_serial": "00000020", "count": 20, "key_id": "abcd"}),  # noqa: E501
        ("stored", coop, None, {"place": "cold store 3"}),
        ("shipped", coop, None, {"quantity": 600, "unit": "box", "to_org_id": handler, "reference_doc": "WB-001"}),  # noqa: E501
        ("received", handler, None, {"quantity": 600, "unit": "box", "from_org_id": coop}),
        ("sold", handler, None, {"channel": "supermarket", "quantity": 100, "unit": "box"}),
    ]  # fmt: skip
    rows = []
    prev = GENESIS_HASH
    for seq, (type_, actor, location, data) in enumerate(specs):
        at = start + timedelta(hours=seq)
        body = event_body(
            batch_id=batch_id,
            seq=seq,
            type=type_,
            event_time=at,
            event_time_offset="+08:00",
            recorded_at=at,
            actor_org_id=actor,
            location=location,
            data=data,
        )
        digest = link_hash(prev, body)
        rows.append(
            {
                "batch_id": batch_id,
                "seq": seq,
                "type": type_,
                "event_time": at,
                "event_time_offset": "+08:00",
                "recorded_at": at,
                "actor_org_id": actor,
                "location": location,
                "data": data,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return rows


def seed(engine: Engine, n_events: int) -> None:
    with unit_of_work(engine, write=True) as session:
        coop, _ = bench_cooperative(session, slug=SLUG)
        handler, _ = create_org(session, name="handler", kind=OrgKind.handler)
        coop_id, handler_id = coop.id, handler.id
        brand_id = session.execute(
            text("SELECT id FROM brands WHERE slug = :s"), {"s": SLUG}
        ).scalar_one()
    start = datetime.combine(date.today() - timedelta(days=30), datetime.min.time(), UTC)
    batches: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(insert(Batch.__table__), batches)  # type: ignore[attr-defined]
            conn.execute(insert(Event.__table__), events)  # type: ignore[attr-defined]
        batches.clear()
        events.clear()

    for i in range(n_events // 10):
        batch_id = new_id()
        chain = _chain(batch_id, coop_id, handler_id, start + timedelta(seconds=i))
        batches.append(
            {
                "id": batch_id,
                "brand_id": brand_id,
                "cooperative_org_id": coop_id,
                "lot": batch_id[:20],
                "product": "navel orange",
                "variety": None,
                "gtin": "06901234567892",
                "status": "open",
                "head_seq": 9,
                "head_hash": chain[-1]["hash"],
                "ledger": Ledger(coop_id).to_json(),
                "created_at": start,
                "updated_at": start,
            }
        )
        events.extend(chain)
        if len(events) >= INSERT_CHUNK:
            flush()
    if events:
        flush()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def measure(url: str, format: str) -> dict[str, Any]:
    """Run in a fresh process: export the brand to /dev/null, report rate and memory."""
    from registry.audit.export import count_events, export_chunks, plan_export

    engine = make_engine(url)
    with unit_of_work(engine) as session:
        plan = plan_export(session, org=None, brand=SLUG)
        total = count_events(session, plan=plan, org=None)
    # The export's chunks reuse the pool's one idle connection: its server process does
    # the database's share of the work.
    with engine.connect() as conn:
        server = psutil.Process(int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one()))
    server0 = sum(server.cpu_times()[:2])
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0 = time.process_time()
    start = time.perf_counter()
    size = 0
    with open("/dev/null", "wb") as sink:
        for chunk in export_chunks(
            engine,
            plan=plan,
            format="csv" if format == "csv" else "epcis",
            base_url="https://r.example",
        ):
            size += len(chunk)
            sink.write(chunk)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    server_cpu = sum(server.cpu_times()[:2]) - server0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "format": format,
        "events": total,
        "seconds": round(elapsed, 2),
        "events_per_s": round(total / elapsed),
        "client_cpu_s": round(cpu, 2),
        "server_cpu_s": round(server_cpu, 2),
        "events_per_cpu_s": round(total / (cpu + server_cpu)),
        "bytes": size,
        "rss_before_mb": round(before_kb / 1024, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "growth_mb": round((peak_kb - before_kb) / 1024, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def fresh_seed(pg_url: str, n_events: int) -> str:
    url = fresh_database("postgres", Path("."), pg_url=pg_url)
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    seed(engine, n_events)
    engine.dispose()
    print(f"seeded {n_events} events in {time.perf_counter() - t0:.0f} s", flush=True)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--seed", type=int, help="only seed this many events into --url")
    parser.add_argument("--measure", choices=["csv", "epcis"], help="only measure --url")
    parser.add_argument("--url", default=PG_URL)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.url, args.measure)))
        return
    if args.seed:
        fresh_seed(args.url, args.seed)
        return
    for n in (int(s) for s in args.sizes.split(",")):
        url = fresh_seed(PG_URL, n)
        for fmt in ("csv", "epcis"):
            out = subprocess.run(
                [sys.executable, "-m", "loadtests.bench_export", "--measure", fmt, "--url", url],
                capture_output=True,
                text=True,
                check=True,
            )
            print(out.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
