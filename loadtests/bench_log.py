"""Benchmark: what the transparency log costs and serves.

Appends/s through HTTP with the log on and off (`REGISTRY_LOG_ENABLED`), SQLite and
PostgreSQL, 1 client and 8 clients on 8 batches (wrk, one connection per batch), with the
server processes given; server and PostgreSQL CPU per append; the sequencer's lock hold and
leaves per round (from /metrics, 1-process runs); `POST /v1/sync` events/s with 1,000
events per call; inclusion proofs served per second; checkpoint publication time and
storage at 1M leaves; and PostgreSQL's own ceiling for the append (`--only ceiling`: the
append's statements replayed by pgbench, 8 clients on 8 batches, no Python in the loop).
(`registry audit --all`: loadtests/bench_appends.py.)

    .venv/bin/python -m loadtests.bench_log [--seconds 10] [--workers 1,2] [--leaves 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import orjson
import psutil
from sqlalchemy import insert, make_url, text

from loadtests.bench_appends import PG_BENCH_URL, hammer, seed
from loadtests.phases import WRK_DONE
from loadtests.server import Server, fresh_database
from registry.batches.service import _APPEND
from registry.core.config import get_settings
from registry.core.db import make_engine, unit_of_work
from registry.log import merkle
from registry.log.models import LogLeaf, LogNode, LogState
from registry.log.publisher import publish_now
from registry.migrate import upgrade


def _metric(base: str, name: str) -> float:
    for line in httpx2.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def postgres_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL process on this machine, with the backends
    that have exited (their postmaster's children's times). Other databases' work counts
    too: run on a quiet machine."""
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if (proc.info["name"] or "").startswith("postgres"):
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
    return total


def appends_script(workdir: Path, key: str, batches: list[str]) -> Path:
    """A wrk script for one thread and one keep-alive connection per batch (`-t{n} -c{n}`),
    each posting `stored` events to its own batch."""
    body = orjson.dumps(
        {"type": "stored", "event_time": "2026-11-21T08:00:00+08:00", "data": {"place": "x"}}
    ).decode()
    paths = ", ".join(f"'/v1/batches/{b}/events'" for b in batches)
    script = workdir / "appends.lua"
    script.write_text(
        f"local paths = {{{paths}}}\nlocal n = 0\n"
        "setup = function(thread) thread:set('id', n); n = n + 1 end\n"
        "request = function()\n"
        "  return wrk.format('POST', paths[(id or 0) % #paths + 1], "
        f"{{['Content-Type'] = 'application/json', ['Authorization'] = 'Bearer {key}'}}, "
        f"'{body}')\n"
        "end\n" + WRK_DONE
    )
    return script


def wrk_appends(
    server: Server, key: str, batches: list[str], seconds: float, workdir: Path
) -> dict[str, Any]:
    """wrk with one thread and one keep-alive connection per batch, each posting `stored`
    events to its own batch (a C generator: its CPU is not the server's)."""
    script = appends_script(workdir, key, batches)
    n = len(batches)
    command = ["wrk", f"-t{n}", f"-c{n}", f"-d{seconds:g}s", "-s", str(script), server.url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_RESULT"))
    result = orjson.loads(line.split(" ", 1)[1])
    ok = result["requests"] - result["errors"]
    return {"ok": ok, "errors": result["errors"], "elapsed": result["duration_us"] / 1e6,
            "p50": result["p50"], "p99": result["p99"]}  # fmt: skip


def appends(
    backend: str, workdir: Path, seconds: float, workers: list[int], generator: str
) -> list[str]:
    rows = []
    for log_on in (True, False):
        for procs in workers:
            url = fresh_database(backend, workdir, pg_url=PG_BENCH_URL)
            engine = make_engine(url)
            upgrade(engine)
            key, ids = seed(engine, 8)
            engine.dispose()
            env = {"REGISTRY_LOG_ENABLED": "true" if log_on else "false"}
            with Server(database_url=url, workers=procs, extra_env=env) as server:
                for label, batches in [("1 client", ids[:1]), ("8 clients, 8 batches", ids)]:
                    before = (
                        _metric(server.url, "registry_log_lock_seconds_total"),
                        _metric(server.url, "registry_log_integrations_total"),
                    )
                    load = os.getloadavg()[0]
                    cpu, pg = server.cpu_seconds(), postgres_cpu_seconds()
                    if generator == "wrk":
                        r = wrk_appends(server, key, batches, seconds, workdir)
                        latency = f"{r['p50']:.0f} / {r['p99']:.0f} ms"
                    else:
                        r = hammer(server.url, key, batches, len(batches), seconds)
                        r["elapsed"], latency = r["ok"] / max(r["events_per_s"], 1e-9), ""
                    cpu, pg = server.cpu_seconds() - cpu, postgres_cpu_seconds() - pg
                    ok = max(r["ok"], 1)
                    lock = ""
                    if log_on and procs == 1:
                        held = _metric(server.url, "registry_log_lock_seconds_total") - before[0]
                        n = _metric(server.url, "registry_log_integrations_total") - before[1]
                        lock = f"{held / max(n, 1) * 1000:.1f} ms, {ok / max(n, 1):.1f} leaves"
                    rows.append(
                        f"| {backend} | {'on' if log_on else 'off'} | {procs} | {label} | "
                        f"{r['ok'] / r['elapsed']:.0f} | {r['errors']} | {latency} | "
                        f"{cpu / ok * 1000:.2f} | {pg / ok * 1000:.2f} | {lock} | {load:.1f} |"
                    )
                    print(rows[-1], flush=True)
    return rows


def pgbench_script(workdir: Path, batch_id: str, actor_id: str, *, log_on: bool) -> Path:
    """One append as the server sends it on PostgreSQL (BEGIN, the batch's row lock,
    `_APPEND`, with the log on `log_integrate`, COMMIT), on one batch, for pgbench: the values the
    server computes in Python (the next seq, the new hash, the ledger) come from the locking
    query. The server sends the function's call and the COMMIT as one message; here they are
    two, which costs PostgreSQL a little more (the ceiling is, if anything, understated)."""
    lock = (
        f"SELECT '{batch_id}' AS batch_id, head_seq + 1 AS seq, 'stored' AS type,"
        " now() AS event_time, '+08:00' AS event_time_offset, now() AS recorded_at,"
        f" '{actor_id}' AS actor_org_id, 'null' AS location, '{{\"place\": \"x\"}}' AS data,"
        " head_hash AS prev_hash, encode(sha256(convert_to(random()::text, 'UTF8')), 'hex')"
        f" AS hash, status, ledger, '{str(log_on).lower()}' AS queue"
        f" FROM batches WHERE id = '{batch_id}' FOR UPDATE \\gset"
    )
    append = " ".join(_APPEND.text.split())
    for absent in (":idempotency_key", ":request_digest"):
        append = append.replace(absent, "NULL")
    integrate = "SELECT * FROM log_integrate(5000, false);\n" if log_on else ""
    script = workdir / f"append-{batch_id}.sql"
    script.write_text(f"BEGIN;\n{lock}\n{append};\n{integrate}COMMIT;\n")
    return script


def database_ceiling(workdir: Path, seconds: float, *, log_on: bool) -> str:
    """pgbench, one process and connection per batch (as wrk's rows): appends/s that
    PostgreSQL alone sustains on this machine, and its CPU per append."""
    url = fresh_database("postgres", workdir, pg_url=PG_BENCH_URL)
    engine = make_engine(url)
    upgrade(engine)
    seed(engine, 8)
    with engine.connect() as conn:
        batches = conn.execute(text("SELECT id, cooperative_org_id FROM batches")).all()
    engine.dispose()
    target = make_url(url)
    command = ["pgbench", "-n", "-M", "extended", "-c", "1", "-T", f"{seconds:g}",
               "-h", target.host or "127.0.0.1", "-p", str(target.port or 5432),
               "-U", target.username or "postgres"]  # fmt: skip
    load, pg, busy = os.getloadavg()[0], postgres_cpu_seconds(), _busy_cpu_seconds()
    scripts = [pgbench_script(workdir, b.id, b.cooperative_org_id, log_on=log_on) for b in batches]
    runs = [
        subprocess.Popen(
            [*command, "-f", str(script), target.database or ""],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for script in scripts
    ]
    outputs = [run.communicate()[0] for run in runs]
    pg, busy = postgres_cpu_seconds() - pg, _busy_cpu_seconds() - busy
    tps = sum(
        float(line.split()[2]) for out in outputs for line in out.splitlines()
        if line.startswith("tps = ")
    )  # fmt: skip
    failed = sum("failed transactions: 0 " not in out for out in outputs)
    return (
        f"| pgbench, the append's statements | {'on' if log_on else 'off'} | {len(batches)} | "
        f"{tps:.0f} | {failed} | "
        f"{pg / max(tps * seconds, 1) * 1000:.2f} | {busy / seconds:.2f} | {load:.1f} |"
    )


def _busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (every core; /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def sync_calls(backend: str, workdir: Path, per_call: int, calls: int, workers: int) -> str:
    """8 clients, each sending `calls` outboxes of `per_call` new events for its own batch."""
    url = fresh_database(backend, workdir, pg_url=PG_BENCH_URL)
    engine = make_engine(url)
    upgrade(engine)
    key, ids = seed(engine, 8)
    engine.dispose()
    with Server(database_url=url, workers=workers) as server:
        done = [0]
        refused: list[str] = []

        def run(i: int) -> None:
            with httpx2.Client(
                base_url=server.url, timeout=300, headers={"Authorization": f"Bearer {key}"}
            ) as c:
                for call in range(calls):
                    items = [
                        {
                            "batch_id": ids[i],
                            "idempotency_key": f"s{i}-{call}-{k}",
                            "event": {
                                "type": "stored",
                                "event_time": datetime.now(UTC).isoformat(),
                                "data": {"place": "x"},
                            },
                        }
                        for k in range(per_call)
                    ]
                    r = c.post("/v1/sync", json={"items": items})
                    if r.status_code != 200:
                        refused.append(f"{r.status_code} {r.text[:100]}")
                        continue
                    done[0] += sum(1 for x in r.json()["results"] if x["status"] == "created")

        load = os.getloadavg()[0]
        cpu, pg = server.cpu_seconds(), postgres_cpu_seconds()
        start = time.perf_counter()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ids))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        cpu, pg = server.cpu_seconds() - cpu, postgres_cpu_seconds() - pg
    created = max(done[0], 1)
    return (
        f"| {backend} | {per_call} | 8 | {workers} | {done[0] / elapsed:.0f} | "
        f"{len(refused)} {sorted(set(refused))[:1]} | {cpu / created * 1000:.3f} | "
        f"{pg / created * 1000:.3f} | {load:.1f} |"
    )


def synthetic_leaves(url: str, edge: merkle.CompactRange, count: int, rng: random.Random) -> None:
    """Append `count` random leaves and the subtrees they complete to the log, in bulk."""
    engine = make_engine(url)
    with unit_of_work(engine, write=True) as s:
        s.execute(text("DELETE FROM log_state"))
        leaves: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        for _ in range(count):
            i, data = edge.size, rng.randbytes(32)
            leaves.append(
                {"leaf_index": i, "batch_id": f"b{i // 100:034d}", "seq": i % 100, "data": data}
            )
            for level, idx, h in edge.append_hash(merkle.leaf_hash(data)):
                nodes.append({"level": level, "node_index": idx, "hash": h})
            if len(leaves) >= 20000:
                s.execute(insert(LogLeaf), leaves)
                s.execute(insert(LogNode), nodes)
                leaves, nodes = [], []
        if leaves:
            s.execute(insert(LogLeaf), leaves)
        if nodes:
            s.execute(insert(LogNode), nodes)
        s.add(LogState(id=1, size=edge.size, root=edge.root()))
    engine.dispose()


def log_at_scale(workdir: Path, leaves: int, seconds: float) -> list[str]:
    url = fresh_database("postgres", workdir, pg_url=PG_BENCH_URL)
    engine = make_engine(url)
    upgrade(engine)
    start = time.perf_counter()
    edge, rng = merkle.CompactRange(), random.Random(9)
    synthetic_leaves(url, edge, leaves, rng)
    out = [f"synthetic log of {leaves} leaves built in {time.perf_counter() - start:.0f} s"]
    with engine.connect() as conn:
        size = conn.execute(
            text(
                "SELECT pg_total_relation_size('log_leaves') + pg_total_relation_size('log_nodes')"
            )
        ).scalar_one()
    out.append(
        f"storage (PostgreSQL, leaves + subtree hashes + indexes): "
        f"{size / leaves * 1_000_000 / 2**20:.0f} MiB per million leaves"
    )
    settings = get_settings()
    timings = []
    for extra in (0, 1, 1000):
        if extra:
            synthetic_leaves(url, edge, extra, rng)
        started = time.perf_counter()
        publish_now(engine, settings)
        timings.append(time.perf_counter() - started)
    out.append(
        "checkpoint publication at ~1M leaves: "
        + ", ".join(f"{t * 1000:.0f} ms" for t in timings)
        + " (first, after +1 leaf, after +1000 leaves)"
    )
    engine.dispose()
    with Server(database_url=url, workers=1) as server:
        count = [0]
        errors: list[str] = []
        deadline = time.perf_counter() + seconds

        def run() -> None:
            rng = random.Random()
            with httpx2.Client(base_url=server.url) as c:
                while time.perf_counter() < deadline:
                    i = rng.randrange(leaves)
                    r = c.get(
                        "/v1/log/proof/inclusion", params={"leaf_index": i, "tree_size": leaves}
                    )
                    if r.status_code != 200:
                        errors.append(r.text[:200])
                        return
                    count[0] += 1

        threads = [threading.Thread(target=run) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out.append(
            f"inclusion proofs at {leaves} leaves, 8 clients, 1 process: "
            f"{count[0] / seconds:.0f} proofs/s"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", default="1,2", help="server processes, e.g. 1,2,4")
    parser.add_argument("--generator", choices=["wrk", "httpx"], default="wrk")
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--sync-per-call", type=int, default=1000)
    parser.add_argument("--sync-calls", type=int, default=4, help="outboxes per client")
    parser.add_argument("--only", default="appends,sync,scale")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workdir", type=Path, default=Path("loadtests/out"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))
    workers = [int(w) for w in args.workers.split(",")]
    if "appends" in only:
        print(
            "| backend | log | procs | clients | appends/s | errors | p50 / p99 | "
            "server CPU ms/append | PostgreSQL CPU ms/append | sequencer round | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for backend in args.backends.split(","):
            appends(backend, args.workdir, args.seconds, workers, args.generator)
    if "sync" in only:
        print(
            "| backend | events/call | clients | procs | events/s | refused calls | "
            "server CPU ms/event | PostgreSQL CPU ms/event | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for backend in args.backends.split(","):
            for procs in workers:
                print(
                    sync_calls(backend, args.workdir, args.sync_per_call, args.sync_calls, procs),
                    flush=True,
                )
    if "ceiling" in only:
        print(
            "| what | log | clients | appends/s | clients with failures "
            "| PostgreSQL CPU ms/append | machine busy (cores) | load |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for log_on in (True, False):
            print(database_ceiling(args.workdir, args.seconds, log_on=log_on), flush=True)
    if "scale" in only:
        for line in log_at_scale(args.workdir, args.leaves, args.seconds):
            print(line, flush=True)


if __name__ == "__main__":
    main()
