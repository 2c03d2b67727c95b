"""Instructions per request, counted by valgrind (cachegrind), of the in-process loop of
loadtests/inprocess.py: the bare app's `/healthz`, a first scan, and a reload (the same
code again, its signature remembered). A count of instructions does not move with the other
tenants of a shared machine as CPU time does (in-process times of one tree vary by 20%
from one run to the next there), so two trees compare in one run each; it is not a time:
a cache miss or a system call costs more than its instructions say.

    apt-get install valgrind                          # not a project dependency
    .venv/bin/python -m loadtests.seed --database-url sqlite:///loadtests/out/load.db \\
        --out loadtests/out/data.json
    .venv/bin/python -m loadtests.instructions        # about 3 minutes on 2 cores

Each figure is the difference of two runs, of `--short` and `--long` requests, divided by
their difference: what the process does once (imports, start-up, the warm-up) cancels
out. Each run works on its own copy of the workdir's database (runs record their scans).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_REFS = re.compile(r"I\s+refs:\s+([0-9,]+)")


def instructions(workdir: Path, args: list[str]) -> int:
    """The instructions of one `loadtests.inprocess` run under cachegrind."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        for name in ("data.json", "load.db"):
            shutil.copy(workdir / name, copy / name)
        done = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no",
             "--cachegrind-out-file=/dev/null", sys.executable, "-m", "loadtests.inprocess",
             "--workdir", str(copy), *args],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"loadtests.inprocess {' '.join(args)} failed: {done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", type=Path, default=Path("loadtests/out"))
    p.add_argument("--short", type=int, default=500)
    p.add_argument("--long", type=int, default=2500)
    a = p.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    if not 0 < a.short < a.long:
        raise SystemExit("--short must be positive and less than --long")
    cases = {
        "bare": ["--app", "bare"],
        "first scans": ["--app", "scan", "--no-reload"],
        "first scans and reloads": ["--app", "scan"],
    }
    runs = [(name, [*args, "--requests", str(n)]) for name, args in cases.items()
            for n in (a.short, a.long)]  # fmt: skip
    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda run: instructions(a.workdir, run[1]), runs))
    per = {}
    for name in cases:
        short, long = (count for (case, _), count in zip(runs, counts, strict=True) if case == name)
        per[name] = (long - short) / (a.long - a.short)
    first, reload = per["first scans"], per["first scans and reloads"] - per["first scans"]
    bare = per["bare"]
    print(f"bare app: {bare:,.0f} instructions per request")
    print(f"first scan: {first:,.0f} instructions ({first / bare:.2f} x the bare app)")
    print(f"reload: {reload:,.0f} instructions ({reload / bare:.2f} x the bare app)")


if __name__ == "__main__":
    main()
