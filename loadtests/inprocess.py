"""A request's CPU in process, without HTTP: the app called with ASGI scopes in a loop on
one event loop, main-thread CPU per request (`time.thread_time`), for the registry's label
scan (a seeded workdir's genuine codes, JSON) and for the bare app's `/healthz`
(loadtests/bare.py). What uvicorn adds to both is left out; what is left is the part of a
scan the registry's own code decides. Scans are measured twice: first scans of codes the
warm-up did not touch, then the same codes again (a reload: the signature is remembered).
Each run records its scans into the workdir's database, so compare two trees on fresh
copies of one seeded workdir, alternating, and take medians (one run to the next varies
by a few microseconds on a shared machine).

    .venv/bin/python -m loadtests.run --mode wrk --seconds 5     # (or any run) seeds loadtests/out
    .venv/bin/python -m loadtests.inprocess                      # both, 20,000 requests each
    .venv/bin/python -m loadtests.inprocess --app scan --profile # and cProfile's top functions
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import subprocess
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import orjson
from starlette.types import ASGIApp, Message

from loadtests.server import BENCH_RATE_LIMITS, PG_URL, fresh_database

WARM_UP = 2_000
GENUINE = b'{"verdict":"genuine"'


def _scope(path: str) -> dict[str, Any]:
    route, _, query = path.partition("?")
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": "GET", "scheme": "http", "root_path": "",
        "path": route, "raw_path": route.encode(), "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"application/json"),
                    (b"user-agent", b"inprocess")],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _measure(
    app: ASGIApp,
    warm_up: list[str],
    rounds: list[list[str]],
    expect: bytes,
    profile: cProfile.Profile | None,
) -> list[tuple[float, float]]:
    """Main-thread and whole-process CPU seconds per request of each round in turn, after
    `warm_up` (the process's includes the scan recorder's thread); every answer must be a
    200 whose body starts with `expect` (a genuine verdict, for scans)."""
    statuses: set[int] = set()
    wrong: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])
        elif message["type"] == "http.response.body" and not message["body"].startswith(expect):
            wrong.append(message["body"][:200])

    for path in warm_up:
        await app(_scope(path), _receive, send)
    measured = []
    for paths in rounds:
        start, start_process = time.thread_time(), time.process_time()
        if profile:
            profile.enable()
        for path in paths:
            await app(_scope(path), _receive, send)
        if profile:
            profile.disable()
        spent = (time.thread_time() - start) / len(paths)
        measured.append((spent, (time.process_time() - start_process) / len(paths)))
    if statuses != {200} or wrong:
        raise SystemExit(f"unexpected answers: statuses {sorted(statuses)}; {wrong[:1]}")
    return measured


async def _served(
    app: ASGIApp, work: Awaitable[list[tuple[float, float]]]
) -> list[tuple[float, float]]:
    """`work` (a `_measure`) between the app's lifespan startup and shutdown."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise SystemExit(f"the app did not start: {started}")
    try:
        return await work
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", type=Path, default=Path("loadtests/out"))
    p.add_argument("--app", choices=["both", "scan", "bare"], default="both")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--profile", action="store_true", help="cProfile the scans' loop")
    p.add_argument(
        "--no-reload", action="store_true", help="first scans only (loadtests/instructions.py)"
    )
    p.add_argument(
        "--backend",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="postgres: --pg-url made afresh and seeded",
    )
    p.add_argument("--pg-url", default=PG_URL, help=f"(default {PG_URL}, REGISTRY_LOAD_PG_URL)")
    p.add_argument("--redis-url", help="REGISTRY_REDIS_URL for the scan's app (default none)")
    a = p.parse_args()
    if a.backend == "postgres":
        # Its own data file: the workdir's data.json belongs with its load.db.
        data_path = a.workdir / "data-postgres.json"
        url = fresh_database("postgres", a.workdir, pg_url=a.pg_url)
        codes = str((a.requests + WARM_UP) * 5 // 4)  # about 87% of codes are genuine
        seeding = [sys.executable, "-m", "loadtests.seed", "--database-url", url, "--codes", codes]
        subprocess.run([*seeding, "--out", str(data_path)], check=True)
    else:
        data_path = a.workdir / "data.json"
        url = f"sqlite:///{(a.workdir / 'load.db').resolve()}"
    data = orjson.loads(data_path.read_bytes())
    os.environ.update(BENCH_RATE_LIMITS)
    os.environ["REGISTRY_DATABASE_URL"] = url
    os.environ["REGISTRY_LOG_LEVEL"] = "WARNING"
    if a.redis_url:
        os.environ["REGISTRY_REDIS_URL"] = a.redis_url
    else:
        os.environ.pop("REGISTRY_REDIS_URL", None)
    for which in ["bare", "scan"] if a.app == "both" else [a.app]:
        profile = cProfile.Profile() if a.profile and which == "scan" else None
        if which == "bare":
            from loadtests.bare import app as bare

            app, expect = bare, b'{"status":"ok"}'
            warm_up, rounds, names = ["/healthz"] * WARM_UP, [["/healthz"] * a.requests], ["bare"]
        else:
            from registry.main import app_factory

            app, expect = app_factory(), GENUINE
            # Codes the warm-up did not scan, then the same codes again: a consumer scan
            # remembers a signature that verified (VerifiedSignatures), so first scans and
            # reloads cost apart.
            genuine = data["genuine"]
            warm = min(WARM_UP, len(genuine) - a.requests)
            if warm < 1:
                raise SystemExit(f"{len(genuine):,} genuine codes: seed more than {a.requests:,}")
            fresh = genuine[warm : warm + a.requests]
            warm_up, rounds = genuine[:warm], [fresh] if a.no_reload else [fresh, fresh]
            names = ["scan (first)", "scan (reload)"][: len(rounds)]
        for name, (spent, process) in zip(
            names,
            asyncio.run(_served(app, _measure(app, warm_up, rounds, expect, profile))),
            strict=True,
        ):
            print(
                f"{name}: {spent * 1e6:.1f} us of main-thread CPU per request, "
                f"{process * 1e6:.1f} us of the process's ({a.requests:,})"
            )
        if profile:
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
