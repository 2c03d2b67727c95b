"""Load-test configuration from `REGISTRY_LOAD_*` environment variables and the seeded data
file (written by `loadtests/seed.py`), shared by every user class.

| variable | default | meaning |
|---|---|---|
| REGISTRY_LOAD_DATA | loadtests/out/data.json | the seed step's data file |
| REGISTRY_LOAD_PUBLIC_URL | http://127.0.0.1:8000 | host put in front of codes sent in bulk |
| REGISTRY_LOAD_FORGED_SHARE | 0.05 | share of scans / bulk codes with a tampered signature |
| REGISTRY_LOAD_RECALLED_SHARE | 0.05 | share of scans / bulk codes of a recalled batch |
| REGISTRY_LOAD_BULK_MIN, _MAX | 100, 1000 | codes per `POST /v1/verify` (uniform) |
| REGISTRY_LOAD_RATE | 0 | requests/s per user (`constant_throughput`); 0 = no pause |
| REGISTRY_LOAD_LINK_RTT | 0.2 | seconds a cooperative's phone waits between appends: the |
|   |   | round trip of its village link (0 = a client next to the server) |
| REGISTRY_LOAD_WEIGHT_CONSUMER, _PLATFORM, _COOPERATIVE | 40, 2, 1 | user mix |
| REGISTRY_LOAD_USERS | consumer,platform,cooperative | user classes offered; `healthz` |
|   |   | adds the framework-ceiling user |
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from locust import constant, constant_throughput

from .fresh import take_codes

GENUINE, FORGED, RECALLED = "genuine", "forged", "recalled"
# The verdict the registry must give each kind of code (DESIGN "Verification verdicts").
EXPECTED = {GENUINE: "genuine", FORGED: "invalid", RECALLED: "recalled"}


def _float(name: str, default: float) -> float:
    return float(os.environ.get(f"REGISTRY_LOAD_{name}", default))


def _int(name: str, default: int) -> int:
    return int(os.environ.get(f"REGISTRY_LOAD_{name}", default))


@dataclass(frozen=True)
class LoadConfig:
    data_path: Path
    public_url: str
    forged_share: float
    recalled_share: float
    bulk_min: int
    bulk_max: int
    rate: float
    link_rtt: float
    users: frozenset[str]

    @classmethod
    def from_env(cls) -> LoadConfig:
        bulk_min = _int("BULK_MIN", 100)
        users = os.environ.get("REGISTRY_LOAD_USERS", "consumer,platform,cooperative")
        return cls(
            data_path=Path(os.environ.get("REGISTRY_LOAD_DATA", "loadtests/out/data.json")),
            public_url=os.environ.get("REGISTRY_LOAD_PUBLIC_URL", "http://127.0.0.1:8000"),
            forged_share=_float("FORGED_SHARE", 0.05),
            recalled_share=_float("RECALLED_SHARE", 0.05),
            bulk_min=bulk_min,
            bulk_max=max(bulk_min, _int("BULK_MAX", 1000)),
            rate=_float("RATE", 0.0),
            link_rtt=_float("LINK_RTT", 0.2),
            users=frozenset(u.strip() for u in users.split(",") if u.strip()),
        )


@cache
def config() -> LoadConfig:
    return LoadConfig.from_env()


@cache
def seed_data() -> dict[str, Any]:
    """The data file, read once per Locust process."""
    path = config().data_path
    if not path.exists():
        raise SystemExit(f"{path} not found: run `python -m loadtests.seed` first")
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    for kind in (GENUINE, FORGED, RECALLED):
        if not data.get(kind):
            raise SystemExit(f"{path} has no {kind} codes")
    return data


def weight(name: str, default: int) -> int:
    return _int(f"WEIGHT_{name.upper()}", default)


def wait_time(pause: float = 0.0) -> Callable[..., float]:
    """Pause between tasks: a fixed per-user rate if REGISTRY_LOAD_RATE is set, else `pause`.

    Cooperatives pass their link's round trip (REGISTRY_LOAD_LINK_RTT): a phone posts an
    event and waits for the answer before the next, so behind a 200 ms link it sends at most
    one append per round trip plus the server's time. A user next to the server with no
    pause posts as fast as the server answers, and its write load grows as appends get
    faster (docs/decisions.md, "Session 9")."""
    rate = config().rate
    return constant_throughput(rate) if rate > 0 else constant(pause)


class CodePicker:
    """Walks each kind of code from a random start, so scans spread over all codes (a real
    label is scanned a few times, not thousands) and each user's sequence differs."""

    def __init__(self, rng: random.Random) -> None:
        data = seed_data()
        self._rng = rng
        self._codes = {kind: data[kind] for kind in (GENUINE, FORGED, RECALLED)}
        self._next = {kind: rng.randrange(len(codes)) for kind, codes in self._codes.items()}
        cfg = config()
        self._forged, self._recalled = cfg.forged_share, cfg.recalled_share

    def kind(self) -> str:
        draw = self._rng.random()
        if draw < self._forged:
            return FORGED
        if draw < self._forged + self._recalled:
            return RECALLED
        return GENUINE

    def pick(self, kind: str | None = None) -> tuple[str, str]:
        """(kind, label path with its ?8030= query)."""
        kind = kind or self.kind()
        codes = self._codes[kind]
        index = self._next[kind]
        self._next[kind] = (index + 1) % len(codes)
        return kind, codes[index]


class FreshCodes(CodePicker):
    """A consumer's codes: each is scanned by this user's phone and by no other (blocks
    taken with `take_codes`), so a code is seen again only when the phone reloads it
    (fresh.RELOAD_SHARE). The server remembers signatures that verified (registry/codes/
    signature.py, VerifiedSignatures): codes walked again by other users would be remembered
    where real phones' are not."""

    BLOCK = 64

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self._left: dict[str, list[int]] = {kind: [] for kind in self._codes}

    def pick(self, kind: str | None = None) -> tuple[str, str]:
        """(kind, label path with its ?8030= query), never picked before in this run."""
        kind = kind or self.kind()
        codes, left = self._codes[kind], self._left[kind]
        if not left:
            taken = take_codes(config().data_path, seed_data()["created_at"], kind, self.BLOCK)
            left.extend(reversed([i % len(codes) for i in taken]))
        return kind, codes[left.pop()]
