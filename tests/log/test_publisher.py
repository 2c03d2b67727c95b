"""Checkpoints are published by the periodic task (Celery beat's schedule names it) and,
without Redis, by a thread in the API process; both through `publish_now`."""

from __future__ import annotations

import time

from sqlalchemy import text

from registry.core.config import Settings
from registry.core.queue import PUBLISH_CHECKPOINT, bound_engine
from registry.log.publisher import checkpoint_thread
from tests.factories import World, harvested
from workers.app import beat_schedule
from workers.tasks import publish_checkpoint


def _checkpoints(world: World) -> list[int]:
    with world.engine.connect() as conn:
        return [s for (s,) in conn.execute(text("SELECT size FROM log_checkpoints ORDER BY id"))]


def test_beat_schedules_the_publication() -> None:
    entry = beat_schedule(Settings(checkpoint_interval=3))["publish-checkpoint"]
    assert entry["task"] == PUBLISH_CHECKPOINT
    assert entry["schedule"].total_seconds() == 3
    assert "publish-checkpoint" not in beat_schedule(Settings(log_enabled=False))


def test_the_task_integrates_and_publishes_once_per_change(world: World) -> None:
    batch = world.new_batch()["id"]
    with bound_engine(world.engine):
        assert publish_checkpoint.apply().get() == 1
        assert publish_checkpoint.apply().get() is None  # nothing new: nothing signed
        world.ok(batch, world.coop, harvested())
        assert publish_checkpoint.apply().get() == 2
    assert _checkpoints(world) == [1, 2]


def test_the_in_process_thread_publishes(world: World) -> None:
    world.new_batch()
    publisher = checkpoint_thread(world.engine, Settings(checkpoint_interval=0.05))
    publisher.start()
    try:
        for _ in range(400):
            if _checkpoints(world):
                break
            time.sleep(0.05)
    finally:
        publisher.stop()
    assert _checkpoints(world) == [1]
