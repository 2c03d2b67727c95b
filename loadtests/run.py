"""Headless benchmark on one machine: seed a fresh database, measure the framework's ceiling
(a bare FastAPI app, `loadtests/bare.py`, served by the same uvicorn command), then serve the
registry with N uvicorn workers and measure its verify paths, and cooperatives' appends
under a verify flood, in the same run; write a Markdown report.

    .venv/bin/python -m loadtests.run                      # SQLite, 1 worker, Locust + wrk
    .venv/bin/python -m loadtests.run --backend postgres --redis --workers 2
    .venv/bin/python -m loadtests.run --smoke              # CI: seconds, fails on any failure

Only 127.0.0.1 is ever loaded; users and durations are bounded by the arguments.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import urllib.request
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from statistics import mean

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign_open

from loadtests import seed
from loadtests.phases import PhaseResult, run_locust, run_wrk, wrk_available, wrk_script
from loadtests.report import Summary, render
from loadtests.scenarios.fresh import RELOAD_SHARE, reloads, take_codes
from loadtests.server import PG_URL, Server, drop_database, fresh_database
from registry.codes.digital_link import build_url, decode_digsig, parse_url
from registry.codes.signature import KeySet, PublicKey, key_id_for, verify_label
from registry.core.db import make_engine
from registry.core.lanes import SERVING_LOOP
from registry.labels import crypto
from registry.migrate import upgrade

REDIS_URL = os.environ.get("REGISTRY_LOAD_REDIS_URL", "redis://127.0.0.1:6379/2")
MAX_USERS = 512  # a bound, so a typo cannot turn the machine into a fork bomb
MAX_SECONDS = 1800


@dataclass
class Options:
    backend: str
    workers: int
    users: int
    paced_users: int
    seconds: float
    mixed_users: int
    mixed_seconds: float
    link_rtt: float
    bulk_users: int
    codes: int
    redis: bool
    mode: str
    smoke: bool
    access_log: bool
    pg_url: str
    workdir: Path
    out: Path | None


def _rate(fn: object, seconds: float) -> float:
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(200):
            fn()  # type: ignore[operator]
        calls += 200
    return calls / elapsed


def crypto_rates(seconds: float = 1.5) -> tuple[float, float, float]:
    """(raw Ed25519 verifications/s through libsodium, which the registry calls, and through
    `cryptography`'s OpenSSL; registry parse + `verify_label`/s) on one core of this
    machine, for the same kind of message a label signs: bulk's codes/s read against the
    first (it checks on every core), a scan's cost against the last."""
    private = Ed25519PrivateKey.generate()
    raw = crypto.public_raw(private)
    key_id = key_id_for(raw)
    public = private.public_key()
    digsig = crypto.sign_label(private, key_id, "06901234500004", "L20261129-001001", "00000587")
    url = build_url("https://o.example", "06901234500004", "L20261129-001001", "00000587", digsig)
    code = parse_url(url)
    message, signature = code.element_string, decode_digsig(digsig)[1]
    keys = KeySet([PublicKey(key_id=key_id, raw=raw, status="active")])
    signed = signature + message
    sodium_rate = _rate(lambda: crypto_sign_open(signed, raw), seconds)
    openssl_rate = _rate(lambda: public.verify(signature, message), seconds)
    label_rate = _rate(lambda: verify_label(parse_url(url), keys), seconds)
    return sodium_rate, openssl_rate, label_rate


def _parse(argv: list[str] | None) -> Options:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--users", type=int, default=32, help="users in the throughput phases")
    p.add_argument("--seconds", type=float, default=20, help="length of each throughput phase")
    p.add_argument(
        "--paced-users", type=int, default=16, help="users offering the 80%% load (paced)"
    )
    p.add_argument("--mixed-users", type=int, default=64)
    p.add_argument("--mixed-seconds", type=float, default=60)
    p.add_argument(
        "--link-rtt",
        type=float,
        default=float(env("REGISTRY_LOAD_LINK_RTT", "0.2")),
        help="seconds each cooperative waits between appends, its link's round trip "
        "(loadtests/scenarios/common.py); 0: post as fast as the server answers",
    )
    p.add_argument("--bulk-users", type=int, default=4)
    # Consumers scan fresh codes (loadtests/scenarios/fresh.py): enough for a default run's
    # verify phases on a fast machine.
    p.add_argument("--codes", type=int, default=int(env("REGISTRY_LOAD_CODES", "300000")))
    p.add_argument("--redis", action="store_true", help=f"REGISTRY_REDIS_URL={REDIS_URL}")
    p.add_argument("--mode", choices=["locust", "wrk", "both"], default="both")
    p.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve both apps as `registry serve` does by default, and as issue 10 measured: "
        "uvicorn's access log on, INFO, into the workdir's server logs (--no-access-log: "
        "warnings only, for both apps)",
    )
    p.add_argument("--smoke", action="store_true", help="a few seconds; exit 1 on any failure")
    p.add_argument("--pg-url", default=PG_URL, help="the load-test database (dropped first)")
    p.add_argument("--workdir", type=Path, default=Path("loadtests/out"))
    p.add_argument("--out", type=Path, help="report file (default: workdir/report-*.md)")
    a = p.parse_args(argv)
    if a.smoke:
        a.codes, a.mode = min(a.codes, 2000), "locust"
    for name, value, bound in (
        ("users", a.users, MAX_USERS), ("mixed-users", a.mixed_users, MAX_USERS),
        ("paced-users", a.paced_users, MAX_USERS),
        ("bulk-users", a.bulk_users, MAX_USERS), ("seconds", a.seconds, MAX_SECONDS),
        ("mixed-seconds", a.mixed_seconds, MAX_SECONDS), ("workers", a.workers, 64),
    ):  # fmt: skip
        if not 0 < value <= bound:
            p.error(f"--{name} must be in 1..{bound}")
    if not 0 <= a.link_rtt <= 60:
        p.error("--link-rtt must be in 0..60 seconds")
    return Options(**{k.replace("-", "_"): v for k, v in vars(a).items()})


def _smoke(server: Server, opts: Options, data_path: Path) -> list[PhaseResult]:
    """Every user class for a few seconds, equal weights so each kind of user runs."""
    equal = {f"REGISTRY_LOAD_WEIGHT_{n}": "1" for n in ("CONSUMER", "PLATFORM", "COOPERATIVE")}
    return [
        run_locust(
            server,
            name="smoke",
            user_classes=["ConsumerUser", "PlatformUser", "CooperativeUser"],
            users=opts.mixed_users if opts.mixed_users < 64 else 6,
            seconds=opts.mixed_seconds if opts.mixed_seconds < 60 else 5,
            data_path=data_path,
            workdir=opts.workdir,
            env={**equal, "REGISTRY_LOAD_BULK_MIN": "20", "REGISTRY_LOAD_BULK_MAX": "100"},
        )
    ]


def _locust_phases(
    server: Server, opts: Options, data_path: Path, summary: Summary
) -> list[PhaseResult]:
    common = {"data_path": data_path, "workdir": opts.workdir}
    scans = partial(run_locust, server, user_classes=["ConsumerUser"], users=opts.users, **common)
    warm_up = scans(name="warm-up", seconds=5, note="fills caches and connection pools; not judged")
    before = _signatures(server, opts)
    verify = scans(name="verify", seconds=opts.seconds)
    summary.remembered = _remembered(before, _signatures(server, opts))
    done = [warm_up, verify]
    summary.verify_rps = verify.total.rps
    cores, rps = summary.ceiling_generator_cores, summary.ceiling_rps
    if note := _generator_note(cores / rps * 1e6 if cores is not None and rps else None, verify):
        summary.notes.append(note)
    target = 0.8 * verify.total.rps
    paced = {"REGISTRY_LOAD_RATE": f"{target / opts.paced_users:.4f}"}
    at_80 = run_locust(
        server,
        name="verify at 80%",
        user_classes=["ConsumerUser"],
        users=opts.paced_users,
        seconds=opts.seconds,
        env=paced,
        note=f"{opts.paced_users} users, each paced to {target / opts.paced_users:.2f} req/s "
        f"(80% of the verify phase's {verify.total.rps:,.0f} req/s)",
        **common,
    )
    control = run_locust(
        server,
        name="healthz at that rate",
        user_classes=["HealthzUser"],
        users=opts.paced_users,
        seconds=opts.seconds,
        env=paced,
        note="the same pacing on /healthz: the latency the generator and machine add",
        **common,
    )
    summary.p99_at_80, summary.rps_at_80 = at_80.total.p99, target
    summary.achieved_at_80 = at_80.total.rps
    summary.notes.append(
        f"At the same paced rate /healthz answered with p99 {control.total.p99:.0f} ms: "
        "what the generator's bursts and the shared machine add on their own."
    )
    bulk = run_locust(
        server,
        name="bulk",
        user_classes=["PlatformUser"],
        users=opts.bulk_users,
        seconds=opts.seconds,
        env={"REGISTRY_LOAD_BULK_MIN": "1000", "REGISTRY_LOAD_BULK_MAX": "1000"},
        note="1000 codes per request (90% genuine, 5% forged, 5% recalled)",
        **common,
    )
    summary.bulk_codes_per_s = bulk.total.rps * 1000

    def without_writes(when: str) -> PhaseResult:
        return run_locust(
            server,
            name=f"mixed without writes ({when})",
            user_classes=["ConsumerUser", "PlatformUser"],
            users=opts.mixed_users,
            seconds=opts.mixed_seconds / 2,
            note="the mixed phase's consumers and platforms alone (40 : 2 by users)",
            **common,
        )

    # Half the phase without writes runs before the mixed phase and half after, and the
    # mixed phase is held against their mean: a shared machine drifts over minutes.
    before = without_writes("before")
    mixed = run_locust(
        server,
        name="mixed",
        user_classes=["ConsumerUser", "PlatformUser", "CooperativeUser"],
        users=opts.mixed_users,
        seconds=opts.mixed_seconds,
        env={"REGISTRY_LOAD_LINK_RTT": f"{opts.link_rtt}"},
        note="consumers : platforms : cooperatives = 40 : 2 : 1 (by users); each cooperative "
        f"waits {opts.link_rtt:.2f} s (its link's round trip) between appends",
        **common,
    )
    readers = [before, without_writes("after")]
    summary.mixed_failures = mixed.failures + sum(r.failures for r in readers)
    summary.mixed_users, summary.mixed_seconds = opts.mixed_users, opts.mixed_seconds
    summary.link_rtt = opts.link_rtt
    appends = [e for e in mixed.endpoints if e.name.startswith("POST /v1/batches/")]
    if appends:
        summary.appends = appends[0].requests
        summary.appends_p50, summary.appends_p99 = appends[0].p50, appends[0].p99
    # What a bulk code costs in scans on this server: the verify phase's scans/s against
    # the bulk phase's codes/s.
    bulk_code = verify.total.rps / summary.bulk_codes_per_s if summary.bulk_codes_per_s else 0
    summary.bulk_code_in_scans = bulk_code
    summary.verify_rps_mixed = _verify_work(mixed)
    summary.verify_rps_without_writes = mean(_verify_work(r) for r in readers)
    summary.verify_work_mixed = _verify_work(mixed, bulk_code)
    summary.verify_work_without_writes = mean(_verify_work(r, bulk_code) for r in readers)
    return [*done, at_80, control, bulk, readers[0], mixed, readers[1]]


# Codes per bulk call in the mixed phases: uniform in REGISTRY_LOAD_BULK_MIN..MAX (100..1000).
MEAN_BULK_CODES = 550


def _verify_work(phase: PhaseResult, bulk_code_in_scans: float = 1.0) -> float:
    """Verification done per second, in label scans: a code verified in bulk counts as the
    fraction of a scan it costs on this server (the bulk phase's codes/s against the
    verify phase's scans/s, both from this run). With 1, the codes verified per second
    (bulk calls times their mean size: counted as one request, a call of hundreds of codes
    would judge the phase by how the CPU happened to split between scans and bulk calls).
    Codes alone still moved with that split, a bulk code costing a fifth of a scan: one run
    read 0.64 where scans rose 30% and bulk codes fell 47% (docs/decisions.md, "Session 9")."""
    scans = sum(e.rps for e in phase.endpoints if e.name.startswith("GET /01/"))
    bulk = sum(e.rps for e in phase.endpoints if e.name == "POST /v1/verify")
    return scans + bulk * MEAN_BULK_CODES * bulk_code_in_scans


def _ceiling(opts: Options, url: str, summary: Summary) -> list[PhaseResult]:
    """The framework's ceiling: loadtests/bare.py served by the registry's uvicorn command,
    with Locust and wrk as the registry is measured after it."""
    done: list[PhaseResult] = []
    log = opts.workdir / "bare-server.log" if opts.access_log else None
    with Server(
        database_url=url,
        workers=opts.workers,
        app="loadtests.bare:app",
        log=log,
        access_log=opts.access_log,
    ) as bare:
        if opts.mode in ("locust", "both"):
            done.append(
                run_locust(bare, name="bare FastAPI", user_classes=["HealthzUser"],
                           users=opts.users, seconds=opts.seconds,
                           data_path=opts.workdir / "data.json", workdir=opts.workdir)
            )  # fmt: skip
            summary.ceiling_rps = done[-1].total.rps
            summary.ceiling_server_cores = done[-1].server_cores
            summary.ceiling_generator_cores = done[-1].generator_cores
        if opts.mode in ("wrk", "both") and wrk_available():
            script = wrk_script([("GET", "/healthz", None)], opts.workdir / "wrk-healthz.lua")
            done.append(
                run_wrk(bare, name="wrk bare FastAPI", endpoint="GET /healthz (bare app)",
                        script=script, connections=opts.users, seconds=opts.seconds)
            )  # fmt: skip
            summary.wrk_ceiling_rps = done[-1].total.rps
    return done


def _wrk_phases(
    server: Server, opts: Options, data: seed.SeedData, summary: Summary
) -> list[PhaseResult]:
    if not wrk_available():
        summary.notes.append("wrk is not installed (`apt-get install wrk`): no wrk phases.")
        return []
    w = opts.workdir
    verify = wrk_script([("GET", p, None) for p in _fresh_scans(opts, data)], w / "wrk-verify.lua")
    base = "http://127.0.0.1:8000"
    bodies = [
        orjson.dumps({"codes": [base + p for p in data.genuine[i * 1000 : (i + 1) * 1000]]})
        for i in range(min(8, len(data.genuine) // 1000))
    ]
    bulk = wrk_script([("POST", "/v1/verify", b.decode()) for b in bodies], w / "wrk-bulk.lua")
    before = _signatures(server, opts)
    done = [
        run_wrk(server, name="wrk verify", endpoint="GET /01/…/21/… genuine", script=verify,
                connections=opts.users, seconds=opts.seconds,
                note="fresh genuine codes, some loaded twice (as phones reload); statuses "
                "checked, verdicts not"),
    ]  # fmt: skip
    summary.wrk_remembered = _remembered(before, _signatures(server, opts))
    done.append(
        run_wrk(server, name="wrk bulk", endpoint="POST /v1/verify (1000 genuine)",
                script=bulk, connections=opts.bulk_users, seconds=opts.seconds)
    )  # fmt: skip
    summary.wrk_verify_rps = done[0].total.rps
    summary.wrk_bulk_codes_per_s = done[1].total.rps * 1000
    return done


def _generator_us(phase: PhaseResult) -> float | None:
    """Locust's own CPU per request in a phase, in µs."""
    rps = phase.total.rps
    return phase.generator_cores / rps * 1e6 if rps else None


def _generator_note(ceiling_us: float | None, verify: PhaseResult) -> str:
    """What Locust itself costs per request of the bare app and per scan: on a machine whose
    cores the generator shares with the server, near one core (Locust is one process) the
    Locust ratio tends to the ratio of these two, whatever the server does."""
    scan_us = _generator_us(verify)
    if ceiling_us is None or scan_us is None:
        return ""
    return (
        f"Locust's own CPU: {ceiling_us:.0f} µs per bare-app request, {scan_us:.0f} µs per "
        f"scan (ratio {ceiling_us / scan_us:.2f}), at {verify.generator_cores:.2f} of a core "
        "in the verify phase. Locust is one process: where it nears a core in both phases, "
        "the Locust ratio tends to this ratio rather than the server's; wrk's rows show the "
        "server with a generator that costs little."
    )


def _fresh_scans(opts: Options, data: seed.SeedData) -> list[str]:
    """The wrk phase's scans: genuine codes no consumer of this run has scanned, enough for
    the phase at 9,000 scans/s (wrk cycles its list), each loaded again right after as often
    as phones reload (loadtests/scenarios/fresh.py)."""
    rng = random.Random(1)
    count = int(9_000 * opts.seconds / (1 + RELOAD_SHARE))
    paths = []
    for index in take_codes(opts.workdir / "data.json", data.created_at, "genuine", count):
        path = data.genuine[index % len(data.genuine)]
        paths += [path, path] if reloads(rng) else [path]
    return paths


def _signatures(server: Server, opts: Options) -> tuple[float, float] | None:
    """(signatures looked up, of them remembered) so far, from the server's /metrics; None
    with several workers (each answers for itself), or from a tree that does not count them
    (an older commit measured for comparison)."""
    if opts.workers != 1:
        return None
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=30) as response:
        lines = response.read().decode().splitlines()
    values = dict(line.split() for line in lines if line.startswith("scan_signatures"))
    if not values:
        return None
    return float(values["scan_signatures_total"]), float(values["scan_signatures_remembered_total"])


def _remembered(
    before: tuple[float, float] | None, after: tuple[float, float] | None
) -> float | None:
    """The share of signature lookups between two readings answered from memory."""
    if before is None or after is None or after[0] == before[0]:
        return None
    return (after[1] - before[1]) / (after[0] - before[0])


def main(argv: list[str] | None = None) -> int:
    opts = _parse(argv)
    opts.workdir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    url = fresh_database(opts.backend, opts.workdir, pg_url=opts.pg_url)
    engine = make_engine(url)
    started = time.perf_counter()
    upgrade(engine)
    data = seed.seed(engine, codes=opts.codes)
    engine.dispose()
    seeded_in = time.perf_counter() - started
    data_path = opts.workdir / "data.json"
    data.write(data_path)
    print(f"seeded {len(data.genuine)} genuine codes in {seeded_in:.1f} s", flush=True)
    summary = Summary()
    redis_url = REDIS_URL if opts.redis else None
    if redis_url:
        import redis  # only when asked for: the default run needs no Redis

        redis.Redis.from_url(redis_url).flushdb()
    log = opts.workdir / f"server-{stamp}.log"
    results: list[PhaseResult] = []
    if not opts.smoke:
        results += _ceiling(opts, url, summary)
    try:
        with Server(
            database_url=url,
            workers=opts.workers,
            redis_url=redis_url,
            log=log,
            access_log=opts.access_log,
        ) as srv:
            if opts.smoke:
                results = _smoke(srv, opts, data_path)
            else:
                (summary.ed25519_verify_per_s, summary.openssl_verify_per_s,
                 summary.label_verify_per_s) = crypto_rates()  # fmt: skip
                if opts.mode in ("locust", "both"):
                    results += _locust_phases(srv, opts, data_path, summary)
                if opts.mode in ("wrk", "both"):
                    results += _wrk_phases(srv, opts, data, summary)
    finally:
        if opts.backend == "postgres" and opts.smoke:
            drop_database(opts.pg_url)
    setup = {
        "backend": opts.backend + (" + Redis" if redis_url else ""),
        "server": f"uvicorn --workers {opts.workers} --loop {SERVING_LOOP} (httptools), "
        + (
            "access log on (INFO), as `registry serve` runs, for both apps, "
            if opts.access_log
            else "no access log (warnings only) for both apps, "
        )
        + f"log {log.name}",
        "data": f"{len(data.genuine):,} genuine, {len(data.forged):,} forged, "
        f"{len(data.recalled):,} recalled codes (seeded in {seeded_in:.1f} s)",
        "command": "python -m loadtests.run "
        + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    report = render(setup=setup, phases=results, summary=summary, workers=opts.workers)
    out = opts.out or opts.workdir / f"report-{stamp}.md"
    out.write_text(report)
    print(report)
    print(f"report: {out}")
    failed = sum(p.failures for p in results if p.name != "warm-up")
    if opts.smoke and (failed or not results or results[0].total.requests == 0):
        print(f"smoke run FAILED: {failed} failed requests", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
