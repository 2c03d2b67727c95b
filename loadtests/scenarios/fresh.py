"""Fresh codes for consumer scans, shared by every Locust process of a run and by its wrk
phase (no Locust import here: the runner uses it too).

The server remembers signatures that verified (registry/codes/signature.py,
VerifiedSignatures), so a load test that scanned the same codes again and again would
measure memory where real phones bring new labels. Consumers take codes no one in the run
has scanned, and scan one again only as often as real phones reload (RELOAD_SHARE).
"""

from __future__ import annotations

import fcntl
import random
from pathlib import Path

import orjson

# A phone opens a label again (a reload, the page's language link, a reopened tab): the
# market measured in issue 10 made 758 page loads for 587 scans, so after a scan the same
# phone loads the same URL once more with this probability.
RELOAD_SHARE = (758 - 587) / 587


def reloads(rng: random.Random) -> bool:
    """Whether the phone that just scanned a code loads it once more."""
    return rng.random() < RELOAD_SHARE


def take_codes(data_path: Path, created_at: str, kind: str, count: int) -> range:
    """`count` indexes of `kind` codes that no one in this run took before, from a counter
    file next to the data file (one per seeding, named by its time), under a lock. Past the
    last code the indexes go on: callers wrap them, and codes are scanned again."""
    stamp = "".join(c for c in created_at if c.isalnum())
    path = data_path.with_name(f"{data_path.name}.{stamp}.taken")
    with path.open("a+b") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        taken = orjson.loads(file.read() or b"{}")
        first = taken.get(kind, 0)
        taken[kind] = first + count
        file.seek(0)
        file.truncate()
        file.write(orjson.dumps(taken))
    return range(first, first + count)
