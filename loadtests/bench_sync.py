"""Concurrent offline-outbox syncs on PostgreSQL: deadlocks and items not applied.

Starts `registry serve` (1 uvicorn worker) on a fresh PostgreSQL database
(REGISTRY_LOAD_PG_URL), seeds a cooperative with 4 batches, then 8 clients each send
`--rounds` 2-item syncs at once; clients 2k and 2k+1 write to batches k and k+1 (mod 4),
the odd one in the opposite order, so pairs of outboxes name the same two batches in
opposite orders. Prints the requests refused whole, the items not applied and the
deadlocks PostgreSQL counted (`pg_stat_database.deadlocks`) during the run.

    .venv/bin/python -m loadtests.bench_sync [--clients 8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import Engine, text

from loadtests.bench_appends import seed
from loadtests.server import PG_URL, Server, fresh_database
from registry.core.db import make_engine
from registry.migrate import upgrade


def deadlocks(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
    return int(value)


def outbox(batches: list[str], client: int, round_: int) -> list[dict[str, Any]]:
    first = client // 2
    pair = [batches[first % len(batches)], batches[(first + 1) % len(batches)]]
    if client % 2:
        pair.reverse()
    return [
        {
            "batch_id": batch,
            "idempotency_key": f"c{client}-r{round_}-{n}-{uuid.uuid4().hex[:6]}",
            "event": {
                "type": "stored",
                "event_time": "2026-11-21T08:00:00+08:00",
                "data": {"place": f"store {client}/{round_}/{n}"},
            },
        }
        for n, batch in enumerate(pair)
    ]


def run(base: str, key: str, batches: list[str], clients: int, rounds: int) -> dict[str, Any]:
    statuses: list[int] = []
    bodies: list[str] = []
    applied = 0
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(i: int) -> None:
        nonlocal applied
        with httpx2.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as http:
            for r_ in range(rounds):
                barrier.wait()
                r = http.post("/v1/sync", json={"items": outbox(batches, i, r_)})
                with lock:
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        applied += sum(x["status"] == "created" for x in r.json()["results"])
                    else:
                        bodies.append(r.text)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "seconds": time.perf_counter() - start,
        "requests_refused_whole": sum(s != 200 for s in statuses),
        "items": clients * rounds * 2,
        "items_not_applied": clients * rounds * 2 - applied,
        "leaked_driver_text": sum("DETAIL" in b for b in bodies),
        "sample_refusals": bodies[:2],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("loadtests/out"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    url = fresh_database("postgres", args.workdir, pg_url=PG_URL)
    engine = make_engine(url)
    upgrade(engine)
    key, batches = seed(engine, 4)
    with Server(database_url=url) as server:
        before = deadlocks(engine)
        result = run(server.url, key, batches, args.clients, args.rounds)
        result["deadlocks"] = deadlocks(engine) - before
    engine.dispose()
    for name, value in result.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
