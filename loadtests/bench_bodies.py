"""Large request bodies and the event loop: `/healthz` latency while clients post the
costliest bodies to parse.

Starts the registry (1 uvicorn worker, `registry serve`'s app) on a fresh SQLite database
and measures `/healthz` for `--seconds` in four phases: idle; while `--clients` client
processes post, back to back, bodies as large as the byte limits allow; bodies as costly
as the value limits allow; and, for scale, the largest ordinary request (a bulk verify of
1,000 label URLs). The costly bodies are small JSON objects, `{"a":[0]},` repeated, the
costliest text to parse per byte, sent to bulk verify (public) and sync (parsed before
its API key is checked). A body parsed on the event loop holds every other request for
its whole parse. Prints the `/healthz` latency percentiles of each phase, the status of
the bodies and the server's peak resident memory.

    .venv/bin/python -m loadtests.bench_bodies [--clients 4] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx2

from loadtests.server import Server, fresh_database
from registry.core.db import make_engine
from registry.migrate import upgrade

# The default limits (registry/main.py, registry/core/config.py): bytes, JSON values.
LIMITS = {"/v1/verify": (1000 * (2048 + 8) + 1024, 16_000), "/v1/sync": (4 * 1_048_576, 50_000)}
PREFIX = {"/v1/verify": b'{"codes":[[', "/v1/sync": b'{"items":[['}
SMALL_OBJECT = b'{"a":[0]},'


LABEL_URLS = json.dumps(
    {
        "codes": [
            f"https://example.org/01/06901234567892/10/L1/21/{n}?8030={'A' * 88}"
            for n in range(1000)
        ]
    }
).encode()


def values(body: bytes) -> int:
    # As registry/core/bounds.py counts them; not imported, so that this script runs on the
    # commit before the value limit too (the "before" figures).
    return body.count(b",") + body.count(b"[") + body.count(b"{")


def costly_body(path: str, *, value_limit: bool) -> bytes:
    """Small objects filling `path`'s byte limit, or (`value_limit`) its value limit."""
    size, most = LIMITS[path]
    count = (size - 32) // len(SMALL_OBJECT)
    if value_limit:
        count = min(count, (most - 8) // values(SMALL_OBJECT))
    return PREFIX[path] + SMALL_OBJECT * count + b'{"a":[0]}]]}'


def probe(url: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx2.Client(timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(f"{url}/healthz").raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.01)


def poster(url: str, path: str, body: bytes, seconds: float) -> list[int]:
    """Posts `body` back to back for `seconds`; the statuses. Run in a process of its own,
    so that the probe's latencies are the server's, not this script's GIL."""
    headers = {"Content-Type": "application/json"}
    statuses = []
    deadline = time.monotonic() + seconds
    with httpx2.Client(timeout=120) as client:
        while time.monotonic() < deadline:
            statuses.append(client.post(f"{url}{path}", content=body, headers=headers).status_code)
    return statuses


def phase(server: Server, bodies: list[tuple[str, bytes]], seconds: float) -> dict[str, Any]:
    """`/healthz` while each of `bodies` (path, body) is posted by a client process."""
    stop = threading.Event()
    latencies: list[float] = []
    prober = threading.Thread(target=probe, args=(server.url, stop, latencies))
    prober.start()
    peak_rss = 0
    with ProcessPoolExecutor(max(1, len(bodies))) as pool:
        posting = [pool.submit(poster, server.url, path, body, seconds) for path, body in bodies]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            peak_rss = max(peak_rss, sum(p.memory_info().rss for p in server.processes()))
            time.sleep(0.1)
        statuses = [status for future in posting for status in future.result()]
    stop.set()
    prober.join()
    ms = sorted(x * 1000 for x in latencies)
    return {
        "healthz": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[int(0.99 * (len(ms) - 1))],
        "max_ms": ms[-1],
        "bodies": {s: statuses.count(s) for s in sorted(set(statuses))},
        "peak_rss_mb": peak_rss / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    paths = [list(LIMITS)[n % len(LIMITS)] for n in range(args.clients)]
    phases = {
        "idle": [],
        "max-size bodies": [(path, costly_body(path, value_limit=False)) for path in paths],
        "costliest accepted": [(path, costly_body(path, value_limit=True)) for path in paths],
        # For scale: the largest ordinary request, 1,000 label URLs (answered `invalid`:
        # their key is unknown), costs the same order as the costliest body accepted.
        "1,000-URL bulk verify": [("/v1/verify", LABEL_URLS)] * args.clients,
    }
    for name, bodies in phases.items():
        sizes = ", ".join(sorted({f"{p} {len(b):,} B" for p, b in bodies}))
        print(f"{name}: {len(bodies)} clients posting {sizes or 'nothing'}")
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database("sqlite", Path(tmp))
        engine = make_engine(url)
        upgrade(engine)  # an empty registry, but a migrated one: bulk verify reads it
        engine.dispose()
        with Server(database_url=url) as server:
            for name, bodies in phases.items():
                result = phase(server, bodies, args.seconds)
                print(
                    f"{name:>20}: /healthz n={result['healthz']} "
                    f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                    f"max {result['max_ms']:.1f} ms; bodies answered {result['bodies']}; "
                    f"server peak RSS {result['peak_rss_mb']:.0f} MB",
                    flush=True,
                )


if __name__ == "__main__":
    main()
