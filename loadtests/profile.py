"""Where a request's time goes: serve a seeded database with one uvicorn process,
drive it with wrk, sample it with py-spy, and print the functions that take the most time.

    .venv/bin/pip install py-spy          # a profiler, not a project dependency
    .venv/bin/python -m loadtests.run --mode wrk --seconds 5   # (or any run) seeds loadtests/out
    .venv/bin/python -m loadtests.profile --endpoint verify --seconds 15
    # appends: a fresh PostgreSQL database (BENCH_PG_URL), 8 clients each on its own batch
    .venv/bin/python -m loadtests.profile --endpoint appends --seconds 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import orjson

from loadtests.bench_appends import PG_BENCH_URL, seed
from loadtests.bench_log import appends_script
from loadtests.phases import wrk_script
from loadtests.server import Server, fresh_database
from registry.core.db import make_engine
from registry.migrate import upgrade


def summarize(raw: Path, top: int) -> str:
    """Inclusive and self shares per function from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
                  for f in stack.split(";")]  # fmt: skip
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    lines = [f"{total} samples", "", "| inclusive | self | function (file) |", "|---|---|---|"]
    for frame, n in inclusive.most_common(top):
        lines.append(f"| {100 * n / total:.1f}% | {100 * own[frame] / total:.1f}% | `{frame}` |")
    lines += ["", "Top self time:", "", "| self | function (file) |", "|---|---|"]
    for frame, n in own.most_common(top):
        lines.append(f"| {100 * n / total:.1f}% | `{frame}` |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", type=Path, default=Path("loadtests/out"))
    p.add_argument(
        "--database-url", help="reads; default: the workdir's load.db (SQLite); appends: none"
    )
    p.add_argument("--endpoint", choices=["verify", "bulk", "healthz", "appends"], default="verify")
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--connections", type=int, default=32, help="reads (appends: 8)")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--redis-url")
    a = p.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    py_spy = shutil.which("py-spy") or str(Path(os.sys.executable).parent / "py-spy")
    if a.endpoint == "appends":
        url, script = _appends(a.workdir)
        threads = connections = 8
    else:
        url, script = _reads(a.workdir, a.database_url, a.endpoint)
        threads, connections = 1, a.connections
    raw = a.workdir / f"profile-{a.endpoint}.txt"
    with Server(database_url=url, redis_url=a.redis_url) as server:
        pid = server.processes()[0].pid
        wrk = subprocess.Popen(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{a.seconds + 4}s", "-s",
             str(script), server.url], stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(2)  # past warm-up
        subprocess.run(
            [py_spy, "record", "-p", str(pid), "-d", str(a.seconds), "-r", "250", "-f", "raw",
             "-o", str(raw), "--nonblocking", "--gil"],
            check=True, capture_output=True,
        )  # fmt: skip
        out, _ = wrk.communicate()
    print(next((x for x in out.splitlines() if x.startswith("WRK_RESULT")), out))
    print(summarize(raw, a.top))


def _appends(workdir: Path) -> tuple[str, Path]:
    """A fresh PostgreSQL database with 8 batches, and wrk's script for 8 appending clients."""
    url = fresh_database("postgres", workdir, pg_url=PG_BENCH_URL)
    engine = make_engine(url)
    upgrade(engine)
    key, batches = seed(engine, 8)
    engine.dispose()
    return url, appends_script(workdir, key, batches)


def _reads(workdir: Path, database_url: str | None, endpoint: str) -> tuple[str, Path]:
    """The seeded workdir's database, and wrk's script for the read endpoint."""
    data = orjson.loads((workdir / "data.json").read_bytes())
    url = database_url or f"sqlite:///{(workdir / 'load.db').resolve()}"
    if endpoint == "verify":
        items = [("GET", path, None) for path in data["genuine"][:20000]]
    elif endpoint == "bulk":
        base = "http://127.0.0.1:8000"
        items = [
            ("POST", "/v1/verify",
             orjson.dumps({"codes": [base + c for c in data["genuine"][i:i + 1000]]}).decode())
            for i in range(0, 8000, 1000)
        ]  # fmt: skip
    else:
        items = [("GET", "/healthz", None)]
    return url, wrk_script(items, workdir / f"profile-{endpoint}.lua")


if __name__ == "__main__":
    main()
