"""Benchmark of the background work: label sheet rendering, scan stream ingestion, and the
verify endpoint with scan recording off, on the in-process buffer, and on Redis.

    .venv/bin/python -m loadtests.bench_workers [--backend postgres|sqlite] [--labels 10000]
        [--scans 50000] [--seconds 10] [--clients 8]

Sheets: one worker process (what `registry worker` runs per process) renders a run of
`--labels` labels; the PDF is then read back (page count, every QR decoded with zxing-cpp).
Ingestion: `--scans` scans are appended to a Redis stream, then one drain (the worker task's
code, in this process) writes them to the database; scans/s counts rows committed.
Verify: uvicorn (1 worker) against the same database, `--clients` threads scanning genuine
codes for `--seconds` in each mode, one after the other in this run.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2
import redis
from sqlalchemy import Engine, text
from sqlmodel import col, select

from loadtests.seed import seed
from loadtests.server import Server, fresh_database
from registry.codes.digital_link import parse_url
from registry.core.config import get_settings
from registry.core.db import make_engine, unit_of_work
from registry.core.time import utcnow
from registry.jobs import runner
from registry.jobs.models import Job, JobKind
from registry.labels.models import LabelRun
from registry.migrate import upgrade
from registry.scans.records import ScanRecord
from registry.scans.stream import drain_scan_stream, encode
from tests.jobs.sheet_checks import read_sheet

REDIS_URL = "redis://127.0.0.1:6379/14"


def bench_sheets(engine: Engine, labels: int, out: Path) -> str:
    with unit_of_work(engine) as session:
        run = session.exec(select(LabelRun).order_by(col(LabelRun.count).desc())).first()
        assert run is not None, "the seed made no label run"
        owner = run.created_by_org_id
    settings = get_settings().model_copy(update={"job_output_dir": str(out)})
    with unit_of_work(engine, write=True) as session:
        job = Job(
            kind=JobKind.label_sheet,
            owner_org_id=owner,
            params={"run_id": run.id, "layout": "a4-3x8"},
            progress_total=run.count,
        )
        session.add(job)
        session.flush()
        job_id = job.id
    started = time.perf_counter()
    runner.run_label_sheet(engine, job_id=job_id, settings=settings)
    elapsed = time.perf_counter() - started
    pdf = (out / f"{job_id}.pdf").read_bytes()
    sheet = read_sheet(pdf)
    assert len(sheet.urls) == run.count
    return (
        f"sheet: {run.count} labels (a4-3x8, {sheet.pages} pages, {len(pdf) / 1e6:.1f} MB) in "
        f"{elapsed:.1f} s = {run.count / elapsed:.0f} labels/s per worker process; "
        f"all {len(sheet.urls)} QR codes decode"
    )


def bench_ingest(engine: Engine, codes: list[str], scans: int) -> str:
    client = redis.Redis.from_url(REDIS_URL)
    stream = f"bench-scans-{uuid.uuid4().hex[:8]}"
    now = utcnow()
    parsed = [parse_url(c) for c in codes]
    pipe = client.pipeline(transaction=False)
    for i in range(scans):
        code = parsed[i % len(parsed)]
        record = ScanRecord(code.gtin, code.lot, code.serial, now, lat=26.2, lon=108.5)
        pipe.xadd(stream, encode(record))  # type: ignore[arg-type]
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    started = time.perf_counter()
    written = 0
    while True:
        n = drain_scan_stream(engine, client, stream=stream, batch_size=2000, max_seconds=600)
        written += n
        if n == 0:
            break
    elapsed = time.perf_counter() - started
    client.delete(stream)
    client.close()
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM scans")).scalar_one()
    assert written == scans == stored, (written, scans, stored)
    return (
        f"ingest: {scans} scans of {len(codes)} codes drained in {elapsed:.1f} s = "
        f"{scans / elapsed:.0f} scans/s (batches of 2000, one drain)"
    )


def hammer(base: str, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    counts, errors = [0] * clients, [0] * clients
    deadline = time.perf_counter() + seconds

    def run(i: int) -> None:
        with httpx2.Client(base_url=base, headers={"Accept": "application/json"}) as c:
            n = i
            while time.perf_counter() < deadline:
                r = c.get(paths[n % len(paths)])
                n += clients
                if r.status_code == 200:
                    counts[i] += 1
                else:
                    errors[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rps": sum(counts) / (time.perf_counter() - started), "errors": sum(errors)}


def bench_verify(url: str, paths: list[str], clients: int, seconds: float, log: Path) -> str:
    lines = []
    for mode, redis_url, env in [
        ("recording off", None, {"REGISTRY_RECORD_SCANS": "false"}),
        ("in-process buffer", None, {}),
        ("Redis stream", REDIS_URL, {"REGISTRY_SCAN_STREAM": f"bench-{uuid.uuid4().hex[:8]}"}),
        ("recording off (again)", None, {"REGISTRY_RECORD_SCANS": "false"}),
    ]:
        server = Server(database_url=url, redis_url=redis_url, log=log, extra_env=env)
        server.start()
        try:
            hammer(server.url, paths, clients, 1.0)  # warm up
            result = hammer(server.url, paths, clients, seconds)
        finally:
            server.stop()
        lines.append(f"verify, {mode}: {result['rps']:.0f} req/s, {result['errors']} errors")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--scans", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    url = fresh_database(
        args.backend,
        work,
        pg_url="postgresql+psycopg://postgres@127.0.0.1:5432/registry_workers_bench",
    )
    engine = make_engine(url)
    upgrade(engine)
    # Two batches: the seed recalls the last one, the other keeps its codes genuine.
    data = seed(engine, codes=2 * args.labels, brands=1, cooperatives=1, batches_per_cooperative=2)
    print(bench_sheets(engine, args.labels, work / "jobs"), flush=True)
    paths = data.genuine[:1000]
    print(bench_ingest(engine, paths, args.scans), flush=True)
    engine.dispose()
    bench_verify(url, paths, args.clients, args.seconds, work / "server.log")


if __name__ == "__main__":
    main()
