"""Consumers' fresh codes (loadtests/scenarios/fresh.py): the server remembers signatures
that verified, so the load test must not scan a code twice except as phones reload."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from loadtests.scenarios.fresh import take_codes

REPO = Path(__file__).resolve().parents[2]
TAKE = (
    "import sys; from pathlib import Path; from loadtests.scenarios.fresh import take_codes\n"
    "for _ in range(200):\n"
    "    r = take_codes(Path(sys.argv[1]), 'stamp', 'genuine', 7)\n"
    "    print(r.start, r.stop)\n"
)


def test_codes_taken_by_concurrent_processes_never_overlap(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TAKE, str(data)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    taken: list[int] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        for line in out.splitlines():
            start, stop = map(int, line.split())
            taken.extend(range(start, stop))
    assert sorted(taken) == list(range(4 * 200 * 7))


def test_each_kind_and_each_seeding_counts_apart(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    assert take_codes(data, "2026-12-01T17:00:00+00:00", "genuine", 3) == range(0, 3)
    assert take_codes(data, "2026-12-01T17:00:00+00:00", "genuine", 3) == range(3, 6)
    assert take_codes(data, "2026-12-01T17:00:00+00:00", "forged", 2) == range(0, 2)
    # A new data file (seeded later) starts over.
    assert take_codes(data, "2026-12-01T17:05:00+00:00", "genuine", 3) == range(0, 3)
