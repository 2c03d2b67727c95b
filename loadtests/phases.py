"""One measured phase of a run: a load generator (Locust or wrk) against the running server
for a fixed time, with per-endpoint throughput, latency percentiles and failures, and the
CPU the server and the generator used meanwhile."""

from __future__ import annotations

import csv
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from loadtests.server import Server

LOADTESTS = Path(__file__).resolve().parent
REPO = LOADTESTS.parent


@dataclass
class EndpointStats:
    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max_ms: float


@dataclass
class PhaseResult:
    name: str
    tool: str
    users: int
    seconds: float
    endpoints: list[EndpointStats]
    total: EndpointStats
    server_cores: float  # server CPU seconds per wall second
    generator_cores: float
    failure_samples: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def failures(self) -> int:
        return self.total.failures


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def _stats_row(row: dict[str, str]) -> EndpointStats:
    return EndpointStats(
        name=row["Name"],
        requests=int(row["Request Count"]),
        failures=int(row["Failure Count"]),
        rps=_number(row["Requests/s"]),
        p50=_number(row["50%"]),
        p95=_number(row["95%"]),
        p99=_number(row["99%"]),
        max_ms=_number(row["Max Response Time"]),
    )


def run_locust(
    server: Server,
    *,
    name: str,
    user_classes: list[str],
    users: int,
    seconds: float,
    data_path: Path,
    workdir: Path,
    env: dict[str, str] | None = None,
    note: str = "",
) -> PhaseResult:
    """Locust headless, one process, `users` users spawned within the first second."""
    prefix = workdir / f"locust-{name}"
    offered = {"HealthzUser": "healthz", "ConsumerUser": "consumer", "PlatformUser": "platform"}
    run_env = {
        **os.environ,
        "REGISTRY_LOAD_DATA": str(data_path),
        "REGISTRY_LOAD_USERS": ",".join(offered.get(c, "cooperative") for c in user_classes),
        **(env or {}),
    }
    command = [
        sys.executable, "-m", "locust", "-f", str(LOADTESTS / "locustfile.py"),
        "--host", server.url, "--headless", "-u", str(users), "-r", str(users),
        "-t", f"{seconds:.0f}s", "--stop-timeout", "10", "--only-summary",
        "--csv", str(prefix), "--loglevel", "WARNING", *user_classes,
    ]  # fmt: skip
    cpu_server, cpu_children = server.cpu_seconds(), _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=run_env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    server_cores = (server.cpu_seconds() - cpu_server) / wall
    generator_cores = (_children_cpu() - cpu_children) / wall
    stats_file = Path(f"{prefix}_stats.csv")
    if not stats_file.exists():
        raise RuntimeError(
            f"locust wrote no stats (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    with stats_file.open(newline="") as f:
        rows = [_stats_row(r) for r in csv.DictReader(f)]
    samples: list[str] = []
    failures_file = Path(f"{prefix}_failures.csv")
    if failures_file.exists():
        with failures_file.open(newline="") as f:
            samples = [
                f"{r['Occurrences']}x {r['Method']} {r['Name']}: {r['Error'][:300]}"
                for r in csv.DictReader(f)
            ][:10]
    total = next(r for r in rows if r.name == "Aggregated")
    return PhaseResult(
        name=name,
        tool="locust",
        users=users,
        seconds=seconds,
        endpoints=[r for r in rows if r.name != "Aggregated"],
        total=total,
        server_cores=server_cores,
        generator_cores=generator_cores,
        failure_samples=samples,
        note=note,
    )


# --- wrk --------------------------------------------------------------------------------

WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"errors":%d,"p50":%.3f,"p95":%.3f,' ..
    '"p99":%.3f,"max":%.3f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def wrk_script(requests: list[tuple[str, str, str | None]], path: Path) -> Path:
    """A wrk Lua script cycling through (method, path, JSON body or None); each thread
    starts at another place in the list. The requests go in a file beside it, one per line
    (method, path and body, tab-separated), read when a thread starts: a Lua chunk holds
    at most 65,536 constants, fewer than a long phase's fresh codes."""
    lines = path.with_suffix(".tsv")
    with lines.open("w") as out:
        for method, target, body in requests:
            if "\t" in target or "\n" in target or (body and ("\t" in body or "\n" in body)):
                raise ValueError(f"a tab or newline in a wrk request: {target[:60]!r}")
            out.write(f"{method}\t{target}\t{body or ''}\n")
    path.write_text(
        "local threads = 0\n"
        "setup = function(thread) thread:set('id', threads); threads = threads + 1 end\n"
        "init = function(args)\n"
        "  items = {}\n"
        f"  for line in io.lines('{lines.resolve()}') do\n"
        "    local method, target, body = line:match('^([^\\t]*)\\t([^\\t]*)\\t(.*)$')\n"
        "    items[#items + 1] = {method, target, body ~= '' and body or nil}\n"
        "  end\n"
        "  i = (id or 0) * 7919\n"
        "end\n"
        "request = function()\n"
        "  i = i % #items + 1\n"
        "  local item = items[i]\n"
        "  local headers = {['Accept'] = 'application/json'}\n"
        "  if item[3] then headers['Content-Type'] = 'application/json' end\n"
        "  return wrk.format(item[1], item[2], headers, item[3])\n"
        "end\n" + WRK_DONE
    )
    return path


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    server: Server,
    *,
    name: str,
    endpoint: str,
    script: Path,
    connections: int,
    seconds: float,
    threads: int = 1,
    note: str = "",
) -> PhaseResult:
    """wrk (C, event loop) for the same server: what the server does when the generator
    costs little. Statuses are checked (non-2xx counts as a failure), verdicts are not."""
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:.0f}s",
        "--timeout", "10s", "-s", str(script), server.url,
    ]  # fmt: skip
    cpu_server, cpu_children = server.cpu_seconds(), _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result (exit {done.returncode}): {done.stderr}")
    raw = orjson.loads(line.removeprefix("WRK_RESULT "))
    duration = raw["duration_us"] / 1e6
    stats = EndpointStats(
        name=endpoint,
        requests=raw["requests"],
        failures=raw["errors"],
        rps=raw["requests"] / duration,
        p50=raw["p50"],
        p95=raw["p95"],
        p99=raw["p99"],
        max_ms=raw["max"],
    )
    return PhaseResult(
        name=name,
        tool=f"wrk -t{threads} -c{connections}",
        users=connections,
        seconds=seconds,
        endpoints=[stats],
        total=stats,
        server_cores=(server.cpu_seconds() - cpu_server) / wall,
        generator_cores=(_children_cpu() - cpu_children) / wall,
        note=note,
    )
