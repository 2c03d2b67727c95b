"""`start_up_heap_frozen` gives the collector back as it found it: the CLI's audit runs
inside test processes too, which must not keep its settings."""

from __future__ import annotations

import gc

from registry.core.heap import GC_YOUNG_OBJECTS, start_up_heap_frozen


def test_the_heap_is_frozen_inside_and_the_collector_restored_after() -> None:
    before = gc.get_threshold()
    kept = [object() for _ in range(10)]
    with start_up_heap_frozen():
        assert gc.get_threshold()[0] == GC_YOUNG_OBJECTS
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
