"""Benchmark: single-event appends per second through the HTTP API, and chain audit speed.

Starts `registry serve` (1 uvicorn worker) against a fresh database of each backend, seeds
orgs/brand/licensed cooperative through the service layer, then appends `stored` events to
batches the cooperative holds: first from one client, then from 8 concurrent clients (each
on its own batch, and all 8 on one batch). Then seeds a large chain set directly and times
`registry audit --all`.

    .venv/bin/python -m loadtests.bench_appends [--seconds 10] [--audit-events 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import Engine
from sqlmodel import select

from loadtests.seed import bench_cooperative
from loadtests.server import Server, fresh_database
from registry.batches.event_types import EVENT_ADAPTER
from registry.batches.schemas import BatchCreate
from registry.batches.service import append_event, create_batch
from registry.core.db import make_engine, unit_of_work
from registry.migrate import upgrade
from registry.orgs.models import Organization

PG_BENCH_URL = os.environ.get(
    "BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/registry_appends"
)
HARVEST = {
    "type": "harvested",
    "event_time": "2026-11-20T08:30:00+08:00",
    "location": {"county_code": "522632"},
    "data": {"quantity": 1000, "unit": "kg", "harvest_date": "2026-11-20"},
}


def seed(engine: Engine, batches: int) -> tuple[str, list[str]]:
    """A brand, a licensed cooperative with `batches` harvested batches; returns its key."""
    with unit_of_work(engine, write=True) as s:
        coop, coop_key = bench_cooperative(s)
        ids = []
        for i in range(batches):
            batch, _ = create_batch(
                s, actor=coop, body=BatchCreate(brand="bench", lot=f"B{i}", product="orange")
            )
            append_event(
                s, batch_id=batch.id, event=EVENT_ADAPTER.validate_python(HARVEST), actor=coop
            )
            ids.append(batch.id)
    return coop_key, ids


def hammer(
    base: str, key: str, batch_ids: list[str], clients: int, seconds: float
) -> dict[str, Any]:
    counts = [0] * clients
    errors = [0] * clients
    deadline = time.perf_counter() + seconds

    def run(i: int) -> None:
        batch = batch_ids[i % len(batch_ids)]
        body = {
            "type": "stored",
            "event_time": datetime.now(UTC).isoformat(),
            "data": {"place": f"cold store {i}"},
        }
        with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as c:
            while time.perf_counter() < deadline:
                r = c.post(f"/v1/batches/{batch}/events", json=body)
                if r.status_code == 201:
                    counts[i] += 1
                else:
                    errors[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {"events_per_s": sum(counts) / elapsed, "ok": sum(counts), "errors": sum(errors)}


def bench_appends(backend: str, workdir: Path, seconds: float) -> list[str]:
    url = fresh_database(backend, workdir, pg_url=PG_BENCH_URL)
    engine = make_engine(url)
    upgrade(engine)
    key, ids = seed(engine, 8)
    engine.dispose()
    with Server(database_url=url) as server:
        rows = []
        for label, clients, batches in [
            ("1 client", 1, ids[:1]),
            ("8 clients, 8 batches", 8, ids),
            ("8 clients, 1 batch", 8, ids[:1]),
        ]:
            r = hammer(server.url, key, batches, clients, seconds)
            rows.append(
                f"| {backend} | {label} | {r['events_per_s']:.0f} | {r['ok']} | {r['errors']} |"
            )
            print(rows[-1], flush=True)
    return rows


def bench_audit(workdir: Path, n_events: int) -> str:
    """Seed n_events over batches of 100 events (SQLite), then time `registry audit --all`."""
    url = fresh_database("sqlite", workdir)
    engine = make_engine(url)
    upgrade(engine)
    per_batch = 100
    _, ids = seed(engine, n_events // per_batch)
    stored = EVENT_ADAPTER.validate_python(
        {"type": "stored", "event_time": "2026-11-21T08:00:00+08:00", "data": {"place": "x"}}
    )
    with unit_of_work(engine, write=True) as s:
        coop = s.exec(select(Organization).where(Organization.name == "coop")).one()
        for batch_id in ids:
            for _ in range(per_batch - 2):
                append_event(s, batch_id=batch_id, event=stored, actor=coop)
    engine.dispose()
    env = {**os.environ, "REGISTRY_DATABASE_URL": url}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "registry.cli", "audit", "--all"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    print(out.stdout.strip().splitlines()[-1], flush=True)
    total = len(ids) * per_batch
    return (
        f"`registry audit --all` over {total} events in {len(ids)} batches (SQLite): "
        f"{elapsed:.1f} s wall including start-up, {total / elapsed:.0f} events/s, "
        f"exit {out.returncode}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--audit-events", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("loadtests/out"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print("| backend | clients | appends/s | acknowledged | errors |\n|---|---|---|---|---|")
    for backend in ("sqlite", "postgres"):
        bench_appends(backend, args.workdir, args.seconds)
    if args.audit_events:
        print(bench_audit(args.workdir, args.audit_events))


if __name__ == "__main__":
    main()
