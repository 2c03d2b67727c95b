"""Garbage-collector settings for long or heavy runs (the serving process, the CLI's audit).

What exists when `freeze_start_up_heap` is called (modules, models, settings: most of the
heap) lives as long as the process. Out of the collector's sight, a full collection walks
only what was made since; and collections come 30 times less often than CPython's default,
made for small scripts. Full collections had stalled every request for ~150 ms every few
seconds under load (issue 15), and took a fifth of `registry audit --all`'s CPU (issue 9;
docs/decisions.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GC_YOUNG_OBJECTS = 20_000  # allocations between young collections (CPython: 700)


def freeze_start_up_heap() -> None:
    gc.freeze()
    gc.set_threshold(GC_YOUNG_OBJECTS, 10, 10)


@contextmanager
def start_up_heap_frozen() -> Iterator[None]:
    """`freeze_start_up_heap` for one piece of work, then the collector as it was (the CLI's
    commands also run inside test processes)."""
    threshold = gc.get_threshold()
    freeze_start_up_heap()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
