"""The in-process rate-limit counters (`MemoryWindows`) against the `limits` library's own
in-memory sliding window counter: the same hits at the same moments get the same answers,
refusals with the same Retry-After (to the second: the library rounds up `now + reset_in -
now`, which floats make a hair different from `reset_in`)."""

from __future__ import annotations

import asyncio
import math
import types

import limits.aio.storage.memory
import limits.aio.strategies
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from registry.core.ratelimit import MemoryWindows

HITS = st.lists(
    st.tuples(st.integers(0, 90), st.sampled_from(["a", "b"])),  # quarter seconds; who
    min_size=1,
    max_size=60,
)


@settings(database=None, max_examples=150, deadline=None)
@given(amount=st.integers(1, 6), per=st.sampled_from(["second", "5 seconds", "minute"]), hits=HITS)
def test_the_same_answers_as_the_library(amount: int, per: str, hits: list) -> None:
    clock = [1_764_500_000.0]  # a moment of 2025, as time.time() gives it
    fake_time = types.SimpleNamespace(time=lambda: clock[0])
    patch = pytest.MonkeyPatch()
    patch.setattr(limits.aio.storage.memory, "time", fake_time)
    patch.setattr(limits.aio.strategies, "time", fake_time)
    item = parse(f"{amount}/{per}")
    ours = MemoryWindows(clock=lambda: clock[0])

    async def run() -> None:
        theirs = SlidingWindowCounterRateLimiter(MemoryStorage())
        for step, who in hits:
            clock[0] += step / 4
            if await theirs.hit(item, "public", "address", who):
                expected = None
            else:
                stats = await theirs.get_window_stats(item, "public", "address", who)
                expected = max(1, math.ceil(stats.reset_time - clock[0]))
            answer = ours.hit(item, "public", "address", who)
            if expected is None or answer is None:
                assert answer == expected, (clock[0], who)
            else:  # whole seconds, rounded up from floats computed a little differently
                assert abs(answer - expected) <= 1, (clock[0], who)

    try:
        asyncio.run(run())
    finally:
        patch.undo()


def test_stale_keys_are_swept_once_there_are_many() -> None:
    clock = [1_000.0]
    windows = MemoryWindows(clock=lambda: clock[0])
    windows.SWEEP_AT = 10
    item = parse("5/second")
    for n in range(10):
        assert windows.hit(item, "address", str(n)) is None
    clock[0] += 5  # every key is older than the previous window now
    assert windows.hit(item, "address", "new") is None
    assert len(windows._counts) == 1
