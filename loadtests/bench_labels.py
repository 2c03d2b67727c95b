"""Benchmark: label signing, QR rendering, and single-code verification over HTTP.

1. In-process: Ed25519 label signatures per second (`sign_label`), complete label URLs per
   second (signature + Digital Link URL, as the codes endpoint builds them), QR images per
   second (PNG and SVG) of real label URLs.
2. Over HTTP, per backend: starts uvicorn (1 worker, `registry.main:app_factory`) on a fresh
   database seeded with a labeled batch, then drives it with a small keep-alive asyncio
   client (C connections) for S seconds each against `/healthz` and against label URLs
   (`Accept: application/json`, a different code each request, scans recorded as usual),
   and reports requests/s and the ratio verify/healthz measured in the same run. Also times
   one 10,000-code page of `GET /v1/labels/runs/{id}/codes`.

    .venv/bin/python -m loadtests.bench_labels [--seconds 10] [--connections 16]
        [--backends sqlite,postgres] [--html]

The client runs in this process and shares the machine with the server; figures are for
comparison within a run, not capacity planning.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import orjson
from sqlalchemy import Engine, text

from loadtests.seed import bench_cooperative
from loadtests.server import Server, free_port, fresh_database
from registry.batches.event_types import EVENT_ADAPTER
from registry.batches.schemas import BatchCreate
from registry.batches.service import append_event, create_batch
from registry.codes.digital_link import build_url
from registry.core.config import DEV_KEY_PASSPHRASE
from registry.core.db import make_engine, unit_of_work
from registry.labels import crypto
from registry.labels.qr import render_png, render_svg
from registry.labels.service import create_label_run, run_codes
from registry.migrate import upgrade
from registry.orgs.models import OrgKind
from registry.orgs.service import create_org

PG_BENCH_URL = os.environ.get(
    "BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/labels_bench"
)
GTIN = "06901234567892"
LABELS = 20_000


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


def bench_in_process(n_sign: int, n_qr: int) -> None:
    key = crypto.generate_private_key()
    kid = crypto.key_id_for(crypto.public_raw(key))
    serials = [f"{i:08d}" for i in range(1, n_sign + 1)]
    start = time.perf_counter()
    digsigs = [crypto.sign_label(key, kid, GTIN, "RJ2026-1120-A", s) for s in serials]
    signed = time.perf_counter() - start
    start = time.perf_counter()
    urls = [
        build_url("https://registry.example", GTIN, "RJ2026-1120-A", s, d)
        for s, d in zip(serials, digsigs, strict=True)
    ]
    built = time.perf_counter() - start
    print(f"labels signed (sign_label, {n_sign}): {rate(n_sign, signed)}")
    print(f"label URLs (sign + build_url, {n_sign}): {rate(n_sign, signed + built)}")
    for name, render in (("PNG", render_png), ("SVG", render_svg)):
        start = time.perf_counter()
        sizes = [len(render(url)) for url in urls[:n_qr]]
        elapsed = time.perf_counter() - start
        print(
            f"QR {name} rendered ({n_qr}, URL {len(urls[0])} chars, ~{sum(sizes) // n_qr} bytes):"
            f" {rate(n_qr, elapsed)}"
        )


def seed(engine: Engine, base_url: str) -> tuple[str, str, list[str]]:
    """A brand, a licensed cooperative and a packed batch with a run of LABELS codes."""
    event = EVENT_ADAPTER.validate_python
    with unit_of_work(engine, write=True) as s:
        coop, coop_key = bench_cooperative(s)
        batch, _ = create_batch(
            s,
            actor=coop,
            body=BatchCreate(brand="bench", lot="RJ2026-1120-A", product="orange", gtin=GTIN),
        )
        for body in (
            {
                "type": "harvested",
                "event_time": "2026-11-20T08:30:00+08:00",
                "location": {"county_code": "522632", "place": "plot A-12"},
                "data": {"quantity": 200000, "unit": "kg", "harvest_date": "2026-11-20"},
            },
            {
                "type": "packed",
                "event_time": "2026-11-21T08:30:00+08:00",
                "data": {"units": LABELS, "unit_size": 5, "unit": "kg"},
            },
        ):
            append_event(s, batch_id=batch.id, event=event(body), actor=coop)
        run = create_label_run(
            s, batch_id=batch.id, count=LABELS, actor=coop, passphrase=DEV_KEY_PASSPHRASE
        )
        # One box leaves for a handler: a batch that never shipped answers `suspicious`.
        handler, _ = create_org(s, name="handler", kind=OrgKind.handler)
        shipped = {"quantity": 1, "unit": "box", "to_org_id": handler.id}
        shipment = {"type": "shipped", "event_time": "2026-11-22T08:00:00+08:00", "data": shipped}
        append_event(s, batch_id=batch.id, event=event(shipment), actor=coop)
        _, codes = run_codes(
            s,
            run_id=run.id,
            actor=coop,
            offset=0,
            limit=LABELS,
            base_url=base_url,
            passphrase=DEV_KEY_PASSPHRASE,
        )
    return coop_key, run.id, [c.url for c in codes]


@dataclass
class Load:
    ok: int = 0
    errors: int = 0
    genuine: int = 0
    latencies: list[float] | None = None


async def _connection(
    port: int,
    paths: list[str],
    offset: int,
    step: int,
    accept: str,
    deadline: float,
    load: Load,
    interval: float = 0.0,
    body: bytes | None = None,
) -> None:
    """One keep-alive connection: back to back, or one request every `interval` seconds
    (paced; latency is measured from the planned send time, so queueing counts)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    assert load.latencies is not None
    planned = time.perf_counter() + interval * offset / max(step, 1)
    try:
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += step
            if interval:
                await asyncio.sleep(max(0.0, planned - time.perf_counter()))
                sent = planned
                planned += interval
            else:
                sent = time.perf_counter()
            if body is None:
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n"
                    "User-Agent: bench\r\n\r\n".encode()
                )
            else:
                writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n"
                    "Content-Type: application/json\r\nUser-Agent: bench\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            answer = await reader.readexactly(length)
            load.latencies.append(time.perf_counter() - sent)
            if head.startswith(b"HTTP/1.1 200"):
                load.ok += 1
                load.genuine += b'"verdict":"genuine"' in answer
            else:
                load.errors += 1
    finally:
        writer.close()


def drive(
    port: int,
    paths: list[str],
    connections: int,
    seconds: float,
    accept: str,
    *,
    rate: float = 0.0,
    body: bytes | None = None,
) -> Load:
    """Requests over `connections` connections for `seconds`: as fast as answered, or at
    `rate` requests/s in total (paced)."""
    load = Load(latencies=[])
    interval = connections / rate if rate else 0.0

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _connection(port, paths, i, connections, accept, deadline, load, interval, body)
                for i in range(connections)
            )
        )

    asyncio.run(main())
    return load


def summary(name: str, load: Load, seconds: float) -> float:
    assert load.latencies is not None
    lat = sorted(load.latencies)
    p50, p99 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000
    per_s = load.ok / seconds
    print(
        f"  {name:<28} {per_s:>8,.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
        f"   ok {load.ok}  errors {load.errors}"
    )
    return per_s


def bench_http(backend: str, workdir: Path, seconds: float, connections: int, html: bool) -> None:
    url = fresh_database(backend, workdir, pg_url=PG_BENCH_URL)
    port = free_port()
    engine = make_engine(url)
    upgrade(engine)
    coop_key, run_id, label_urls = seed(engine, f"http://127.0.0.1:{port}")
    engine.dispose()
    paths = [urlsplit(u).path + "?" + urlsplit(u).query for u in label_urls]
    env = {
        "REGISTRY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # Every request scans another code, but keep the clone signal out of the measurement.
        "REGISTRY_SCAN_ALERT_THRESHOLD": "1000000",
    }
    bare_port = free_port()
    with Server(database_url=url, port=bare_port, app="loadtests.bare:app"):
        drive(bare_port, ["/healthz"], connections, 1.0, "*/*")  # warm up
        bare = summary(
            "bare FastAPI async endpoint",
            drive(bare_port, ["/healthz"], connections, seconds, "*/*"),
            seconds,
        )
    with Server(database_url=url, port=port, extra_env=env):
        print(
            f"{backend}: uvicorn 1 worker, {connections} keep-alive connections, {seconds:g} s each"
        )
        drive(port, ["/healthz"], connections, 1.0, "application/json")  # warm up
        drive(port, paths[-500:], connections, 1.0, "application/json")
        health = summary(
            "GET /healthz", drive(port, ["/healthz"], connections, seconds, "*/*"), seconds
        )
        verify_load = drive(port, paths[:-500], connections, seconds, "application/json")
        verify = summary("GET label URL (JSON)", verify_load, seconds)
        print(
            f"  verify / bare ratio: {verify / bare:.2f}   verify / healthz ratio: "
            f"{verify / health:.2f}  (genuine answers: {verify_load.genuine})"
        )
        paced = drive(
            port, paths[:-500], connections, seconds, "application/json", rate=0.8 * verify
        )
        summary(f"GET label URL at 80% ({0.8 * verify:,.0f}/s)", paced, seconds)
        base = f"http://127.0.0.1:{port}"
        bulk_body = orjson.dumps({"codes": [base + p for p in paths[:1000]]})
        bulk = drive(port, ["/v1/verify"], 2, seconds, "application/json", body=bulk_body)
        bulk_rps = summary("POST /v1/verify (1000 codes)", bulk, seconds)
        print(f"  bulk: {bulk_rps * 1000:,.0f} codes/s (1 process, 2 connections)")
        if html:
            summary(
                "GET label URL (HTML page)",
                drive(port, paths, connections, seconds, "text/html"),
                seconds,
            )
        start = time.perf_counter()
        r = httpx2.get(
            f"http://127.0.0.1:{port}/v1/labels/runs/{run_id}/codes",
            params={"limit": 10_000},
            headers={"Authorization": f"Bearer {coop_key}"},
            timeout=120,
        )
        elapsed = time.perf_counter() - start
        assert r.status_code == 200, r.text[:200]
        assert len(r.json()) == 10_000
        print(f"  GET codes, one page of 10,000: {elapsed:.2f} s ({rate(10_000, elapsed)} codes)")
    time.sleep(0.5)
    engine = make_engine(url)
    with engine.connect() as conn:
        scans = conn.execute(text("SELECT count(*) FROM scans")).scalar_one()
        counted = conn.execute(
            text("SELECT coalesce(sum(count), 0) FROM scan_counters")
        ).scalar_one()
    engine.dispose()
    print(
        f"  scans written by the background recorder (incl. warm-up): {scans} rows,"
        f" counters sum {counted}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--sign", type=int, default=20_000)
    parser.add_argument("--qr", type=int, default=500)
    parser.add_argument("--html", action="store_true", help="also time the HTML page")
    parser.add_argument("--workdir", type=Path, default=Path("loadtests/out"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    bench_in_process(args.sign, args.qr)
    for backend in args.backends.split(","):
        bench_http(backend, args.workdir, args.seconds, args.connections, args.html)


if __name__ == "__main__":
    main()
