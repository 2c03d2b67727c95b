"""The Markdown report of a run: setup, one table row per endpoint per phase, the ratios
and targets of issue #5, and the caveats that go with 2 shared cores."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime

from loadtests.phases import REPO, PhaseResult
from loadtests.scenarios.fresh import RELOAD_SHARE

RELOADS = RELOAD_SHARE / (1 + RELOAD_SHARE)  # of consumers' page loads, reloads


@dataclass
class Summary:
    """What a run is judged on (filled by the runner from its phases)."""

    ceiling_rps: float | None = None  # the bare FastAPI app (loadtests/bare.py)
    # The cores the bare app's server and Locust used in Locust's bare phase: a ceiling only
    # if the server was the one that ran out (`saturated`)
    ceiling_server_cores: float | None = None
    ceiling_generator_cores: float | None = None
    verify_rps: float | None = None
    p99_at_80: float | None = None
    rps_at_80: float | None = None
    achieved_at_80: float | None = None
    bulk_codes_per_s: float | None = None
    mixed_failures: int | None = None
    mixed_users: int | None = None
    mixed_seconds: float | None = None
    ed25519_verify_per_s: float | None = None  # libsodium, as the registry checks
    openssl_verify_per_s: float | None = None  # `cryptography`, for reference
    label_verify_per_s: float | None = None
    wrk_ceiling_rps: float | None = None
    wrk_verify_rps: float | None = None
    # Of the verify phase's signature checks, the share the server remembered (reloads:
    # loadtests/scenarios/fresh.py); from its /metrics, with 1 worker only
    remembered: float | None = None
    wrk_remembered: float | None = None
    wrk_bulk_codes_per_s: float | None = None
    # issue 15: a cooperative's appends while consumers and platforms flood verification
    appends: int | None = None
    link_rtt: float | None = None  # cooperatives' pause between appends (their link's round trip)
    appends_p50: float | None = None
    appends_p99: float | None = None
    verify_rps_mixed: float | None = None
    verify_rps_without_writes: float | None = None
    # verification done, in label scans: a bulk code counts as `bulk_code_in_scans` of one
    bulk_code_in_scans: float | None = None
    verify_work_mixed: float | None = None
    verify_work_without_writes: float | None = None
    notes: list[str] = field(default_factory=list)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt(value: float | None, spec: str = ",.0f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "**not met**")


# A bare phase measures the framework's ceiling only if its server ran out of CPU: one
# process at less than this share of a core was waiting for its generator.
SATURATED = 0.9


def saturated(summary: Summary) -> bool | None:
    """Whether Locust's bare phase kept the bare app's one process busy (None: not run)."""
    cores = summary.ceiling_server_cores
    return None if cores is None else cores >= SATURATED


def _ceiling_caveat(summary: Summary) -> str:
    """Why the Locust ratio is not judged when its bare phase was the generator's ceiling."""
    if saturated(summary) is not False:
        return ""
    return (
        f"The Locust ratio is not judged: in its bare phase the server ran at "
        f"{summary.ceiling_server_cores:.2f} of a core and Locust at "
        f"{_fmt(summary.ceiling_generator_cores, '.2f')}, so that figure is Locust's ceiling, "
        "not the framework's (a ceiling needs the server busy, at least "
        f"{SATURATED} of a core); wrk's row is the server's."
    )


def render(
    *, setup: dict[str, str], phases: list[PhaseResult], summary: Summary, workers: int
) -> str:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [
        f"# Origin Registry load test, {now}",
        "",
        f"- commit `{_git('rev-parse', '--short', 'HEAD')}`"
        + (" (work tree has uncommitted changes)" if _git("status", "--porcelain") else ""),
        f"- machine: {os.cpu_count()} cores ({_cpu_model()}), Python {platform.python_version()}",
        *(f"- {k}: {v}" for k, v in setup.items()),
        "",
        "Locust is Python: on 2 cores its one process takes most of a core that the server",
        "would otherwise use, so Locust figures are a lower bound of the server's capacity;",
        "the wrk rows (C, one event-loop thread) show the server with a cheap generator.",
        "Latencies are client-side, so they include the generator's own queueing.",
        "",
        "## Summary",
        "",
        "| quantity | value | target | |",
        "|---|---|---|---|",
    ]
    ratio = (
        summary.verify_rps / summary.ceiling_rps
        if summary.verify_rps and summary.ceiling_rps
        else None
    )
    wrk_ratio = (
        summary.wrk_verify_rps / summary.wrk_ceiling_rps
        if summary.wrk_verify_rps and summary.wrk_ceiling_rps
        else None
    )
    codes_kept = (
        summary.verify_rps_mixed / summary.verify_rps_without_writes
        if summary.verify_rps_mixed and summary.verify_rps_without_writes
        else None
    )
    kept = (
        summary.verify_work_mixed / summary.verify_work_without_writes
        if summary.verify_work_mixed and summary.verify_work_without_writes
        else None
    )
    per_process = summary.bulk_codes_per_s / workers if summary.bulk_codes_per_s else None
    wrk_per_process = (
        summary.wrk_bulk_codes_per_s / workers if summary.wrk_bulk_codes_per_s else None
    )
    rows = [
        ("bare FastAPI req/s (Locust)", _fmt(summary.ceiling_rps), "", None),
        ("single-code verify req/s (Locust)", _fmt(summary.verify_rps), "", None),
        (
            "verify / bare (Locust)",
            _fmt(ratio, ".2f"),
            ">= 0.5 (1 process, server saturated in the bare phase)",
            None if ratio is None or workers != 1 or not saturated(summary) else ratio >= 0.5,
        ),
        (
            "signatures remembered in the verify phase (Locust; reloads alone: "
            f"{RELOADS:.0%})",
            _fmt(summary.remembered, ".0%"),
            "",
            None,
        ),
        ("bare FastAPI req/s (wrk)", _fmt(summary.wrk_ceiling_rps), "", None),
        ("single-code verify req/s (wrk)", _fmt(summary.wrk_verify_rps), "", None),
        (
            "verify / bare (wrk)",
            _fmt(wrk_ratio, ".2f"),
            ">= 0.5 (1 process)",
            None if wrk_ratio is None or workers != 1 else wrk_ratio >= 0.5,
        ),
        (
            f"signatures remembered in the verify phase (wrk; reloads alone: {RELOADS:.0%})",
            _fmt(summary.wrk_remembered, ".0%"),
            "",
            None,
        ),
        (
            f"verify p99 at 80% load ({_fmt(summary.rps_at_80)} req/s offered, "
            f"{_fmt(summary.achieved_at_80)} answered)",
            _fmt(summary.p99_at_80, ".0f", " ms"),
            "< 25 ms",
            None if summary.p99_at_80 is None else summary.p99_at_80 < 25,
        ),
        (
            "bulk codes/s per server process (Locust)",
            _fmt(per_process),
            ">= 12,000",
            None if per_process is None else per_process >= 12_000,
        ),
        (
            "bulk codes/s per server process (wrk)",
            _fmt(wrk_per_process),
            ">= 12,000",
            None if wrk_per_process is None else wrk_per_process >= 12_000,
        ),
        (
            f"appends p50 / p99 in the mixed phase ({_fmt(summary.appends, 'd')} appends, "
            f"link round trip {_fmt(summary.link_rtt, '.2f', ' s')})",
            f"{_fmt(summary.appends_p50, '.0f')} / {_fmt(summary.appends_p99, '.0f', ' ms')}",
            "p99 < 250 ms",
            None if summary.appends_p99 is None else summary.appends_p99 < 250,
        ),
        (
            f"verification in the mixed phase / without writes, in scans/s "
            f"({_fmt(summary.verify_work_mixed)} / {_fmt(summary.verify_work_without_writes)};"
            f" a bulk code = {_fmt(summary.bulk_code_in_scans, '.2f')} scan)",
            _fmt(kept, ".2f"),
            ">= 0.90",
            None if kept is None else kept >= 0.9,
        ),
        (
            f"codes verified/s in the mixed phase / without writes "
            f"({_fmt(summary.verify_rps_mixed)} / {_fmt(summary.verify_rps_without_writes)})",
            _fmt(codes_kept, ".2f"),
            "",
            None,
        ),
        (
            f"failed requests, mixed users ({summary.mixed_users} users, "
            f"{_fmt(summary.mixed_seconds)} s)",
            _fmt(summary.mixed_failures, "d"),
            "0",
            None if summary.mixed_failures is None else summary.mixed_failures == 0,
        ),
        ("raw Ed25519 verify/s, 1 core: libsodium (the registry's) / `cryptography`",
         f"{_fmt(summary.ed25519_verify_per_s)} / {_fmt(summary.openssl_verify_per_s)}",
         "", None),
        ("registry parse + `verify_label`/s, 1 core", _fmt(summary.label_verify_per_s),
         "", None),
    ]  # fmt: skip
    if all(v == "n/a" for _, v, _, _ in rows):
        del lines[-4:]  # a smoke run judges nothing but failures
    else:
        lines += [f"| {q} | {v} | {t} | {_verdict(m) if t else ''} |" for q, v, t, m in rows]
    caveat = _ceiling_caveat(summary) if workers == 1 else ""
    lines += ["", *summary.notes, *([caveat] if caveat else []), "", "## Phases", ""]
    lines += [
        "| phase | tool | users | endpoint | requests | failures | req/s | p50 ms | p95 ms "
        "| p99 ms | max ms | server CPU (cores) | generator CPU (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in phases:
        for i, e in enumerate([*phase.endpoints, phase.total] if len(phase.endpoints) > 1
                              else phase.endpoints):  # fmt: skip
            first = i == 0
            lines.append(
                f"| {phase.name if first else ''} | {phase.tool if first else ''} "
                f"| {phase.users if first else ''} | {e.name} | {e.requests:,} | {e.failures:,} "
                f"| {e.rps:,.0f} | {e.p50:.0f} | {e.p95:.0f} | {e.p99:.0f} | {e.max_ms:.0f} "
                f"| {f'{phase.server_cores:.2f}' if first else ''} "
                f"| {f'{phase.generator_cores:.2f}' if first else ''} |"
            )
    notes = [p for p in phases if p.note or p.failure_samples]
    if notes:
        lines += ["", "## Notes per phase", ""]
        for phase in notes:
            if phase.note:
                lines.append(f"- **{phase.name}**: {phase.note}")
            lines += [f"  - failure: `{s}`" for s in phase.failure_samples]
    return "\n".join(lines) + "\n"
