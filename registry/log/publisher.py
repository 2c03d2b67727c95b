"""Publishing checkpoints periodically: integrate whatever is queued, then sign the tree.

With Redis, Celery beat schedules the task (workers/tasks.py); without it, the API process
runs `CheckpointThread`. Either way `publish_now` is the one code path.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from registry.core.config import Settings
from registry.core.db import unit_of_work
from registry.log.append import integrate_all
from registry.log.checkpoints import publish_checkpoint

log = logging.getLogger(__name__)


def publish_now(engine: Engine, settings: Settings) -> int | None:
    """Integrate queued events and publish a checkpoint if the tree grew; returns the new
    checkpoint's size, or None when nothing changed."""
    integrate_all(engine)
    with unit_of_work(engine, write=True) as session:
        checkpoint = publish_checkpoint(
            session, name=settings.log_name, passphrase=settings.key_passphrase
        )
        return None if checkpoint is None else checkpoint.size


class CheckpointThread:
    """Publishes every `settings.checkpoint_interval` seconds inside this process."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._settings.checkpoint_interval):
            try:
                publish_now(self._engine, self._settings)
            except Exception:
                log.exception("could not publish a log checkpoint")
