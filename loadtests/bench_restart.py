"""Benchmark: consumer verify right after a restart, without Redis.

The in-process device counter starts empty after a restart and loads each code's durable
history when the code is first scanned again (registry/scans/counter.py). This serves a seeded
SQLite database (one uvicorn process), scans it with wrk, restarts the server on the same
database and measures verify req/s in the first seconds after the restart and later, next to
the same figure on the fresh database (before any scan was written).

    .venv/bin/python -m loadtests.bench_restart [--scan-seconds 15] [--window 8]

The seeded database is kept under --workdir and copied for each run. The server runs the
`registry` package that `python -m uvicorn` imports from the current directory, so running
this from another checkout (PYTHONPATH unset) measures that checkout's code.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from loadtests import seed
from loadtests.phases import run_wrk, wrk_script
from loadtests.server import Server
from registry.core.db import make_engine
from registry.migrate import upgrade


def pristine_database(workdir: Path, codes: int) -> tuple[Path, list[str]]:
    """A seeded SQLite file (made once per --codes) and its genuine code paths."""
    db, data = workdir / f"pristine-{codes}.db", workdir / f"data-{codes}.json"
    if not db.exists() or not data.exists():
        db.unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        seeded = seed.seed(engine, codes=codes)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        seeded.write(data)
    return db, list(json.loads(data.read_text())["genuine"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=40_000, help="label codes seeded")
    parser.add_argument("--paths", type=int, default=20_000, help="genuine codes scanned")
    parser.add_argument("--scan-seconds", type=float, default=15, help="scans before restart")
    parser.add_argument("--window", type=float, default=8, help="seconds per measurement")
    parser.add_argument("--windows", type=int, default=2, help="measurements after restart")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workdir", type=Path, default=Path("loadtests/out/restart"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    pristine, genuine = pristine_database(args.workdir, args.codes)
    script = wrk_script([("GET", p, None) for p in genuine[: args.paths]], args.workdir / "v.lua")
    db = args.workdir / "run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(pristine, db)
    url = f"sqlite:///{db.resolve()}"

    def measure(server: Server, name: str, seconds: float) -> float:
        result = run_wrk(
            server,
            name=name,
            endpoint="verify",
            script=script,
            connections=args.connections,
            seconds=seconds,
        )
        stats = result.total
        print(
            f"{name:14} {stats.rps:7.0f} req/s  p50 {stats.p50:6.1f} ms  p99 {stats.p99:6.1f} ms"
            f"  failures {stats.failures}",
            flush=True,
        )
        return stats.rps

    with Server(database_url=url) as server:
        measure(server, "fresh", args.window)
        measure(server, "scanning", max(args.scan_seconds - args.window, 1))
    # Stopping the server flushed its buffered scans: the restarted one finds them all.
    with Server(database_url=url) as server:
        for window in range(args.windows):
            start = window * args.window
            measure(server, f"restart+{start:.0f}s", args.window)


if __name__ == "__main__":
    main()
