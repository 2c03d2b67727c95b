"""Publishing checkpoints periodically: integrate whatever is queued, then sign the tree.

With Redis, Celery beat schedules the task (workers/tasks.py); without it, the API process
runs `checkpoint_thread`. Either way `publish_now` is the one code path.
"""

from __future__ import annotations

from sqlalchemy import Engine

from registry.core.config import Settings
from registry.core.db import unit_of_work
from registry.core.periodic import Periodic
from registry.log.append import integrate_all
from registry.log.checkpoints import publish_checkpoint


def publish_now(engine: Engine, settings: Settings) -> int | None:
    """Integrate queued events and publish a checkpoint if the tree grew; returns the new
    checkpoint's size, or None when nothing changed."""
    integrate_all(engine)
    with unit_of_work(engine, write=True) as session:
        checkpoint = publish_checkpoint(
            session, name=settings.log_name, passphrase=settings.key_passphrase
        )
        return None if checkpoint is None else checkpoint.size


def checkpoint_thread(engine: Engine, settings: Settings) -> Periodic:
    """Publishes every `settings.checkpoint_interval` seconds inside this process."""
    return Periodic(
        "registry-checkpoints", settings.checkpoint_interval, lambda: publish_now(engine, settings)
    )
