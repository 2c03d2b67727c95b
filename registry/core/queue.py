"""Sending background tasks, by name, once the request's transaction has committed.

Two implementations, chosen by settings (as warehouse does): with `REGISTRY_REDIS_URL` the
task goes to Celery workers through Redis; without it (the embedded default) the same
Celery task runs in this process, eagerly (`Task.apply`), on a background thread bound to
this app's engine, so a long job never holds the request that asked for it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from registry.core.config import Settings
from registry.core.db import after_commit, get_engine

log = logging.getLogger(__name__)

# Task names: the API sends by name, so it never imports the worker code.
RENDER_LABEL_SHEET = "registry.render_label_sheet"
EXPORT_AUDIT = "registry.export_audit"
DRAIN_SCANS = "registry.drain_scans"
AUDIT_RECENT_BATCHES = "registry.audit_recent_batches"
EXPIRE_JOBS = "registry.expire_jobs"
PUBLISH_CHECKPOINT = "registry.publish_checkpoint"
RESEND_JOBS = "registry.resend_jobs"

_bound_engine: ContextVar[Engine | None] = ContextVar("registry_task_engine", default=None)


def task_engine() -> Engine:
    """The engine a task writes to: the sending app's when run in-process, else settings'."""
    return _bound_engine.get() or get_engine()


@contextmanager
def bound_engine(engine: Engine) -> Iterator[None]:
    """Run tasks called inside the block (eagerly, in this thread) against `engine`."""
    token = _bound_engine.set(engine)
    try:
        yield
    finally:
        _bound_engine.reset(token)


class TaskQueue(Protocol):
    def send(self, name: str, *args: str) -> None:
        """Queue the task; raises if it cannot be queued (the broker is unreachable)."""

    def close(self) -> None: ...


class CeleryTaskQueue:
    """Publishes to the Celery workers' queue on Redis (a client only: runs no tasks)."""

    def __init__(self, settings: Settings) -> None:
        from celery import Celery

        assert settings.redis_url is not None
        self._queue = settings.task_queue
        self._app = Celery("registry-client", broker=settings.redis_url, set_as_current=False)
        self._app.conf.update(
            broker_connection_retry_on_startup=True,
            # Publishing must fail fast when Redis is down, not hang the request's thread.
            broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2},
            task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1},
        )

    def send(self, name: str, *args: str) -> None:
        self._app.send_task(name, args=list(args), queue=self._queue)

    def close(self) -> None:
        self._app.close()


class InProcessTaskQueue:
    """No broker: each task runs eagerly, in order, on one background thread."""

    def __init__(self, engine: Engine, task_app: str) -> None:
        self._engine = engine
        self._task_app = task_app
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="registry-task")

    def send(self, name: str, *args: str) -> None:
        task = _task_app(self._task_app).tasks[name]

        def run() -> None:
            _bound_engine.set(self._engine)
            result = task.apply(args=list(args))
            if result.failed():
                log.error("task %s%r failed: %r", name, args, result.result)

        self._pool.submit(copy_context().run, run)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _task_app(reference: str) -> Any:
    """The Celery app named `module:attribute` (the `task_app` setting). Found by name, as
    uvicorn finds an app: the core never imports the workers, which sit above it."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute or "app")


def task_queue_for(settings: Settings, engine: Engine) -> TaskQueue:
    if settings.redis_url:
        return CeleryTaskQueue(settings)
    return InProcessTaskQueue(engine, settings.task_app)


def send_after_commit(
    session: Session,
    queue: TaskQueue,
    name: str,
    *args: str,
    on_error: Callable[[Exception], Any] | None = None,
) -> None:
    """Send the task once `session` commits (never if it rolls back). A send that fails is
    logged and handed to `on_error`; it never turns a committed request into an error."""

    def send() -> None:
        try:
            queue.send(name, *args)
        except Exception as exc:
            log.exception("could not queue task %s%r", name, args)
            if on_error is not None:
                on_error(exc)

    after_commit(session, send)


def get_task_queue(request: Request) -> TaskQueue:
    queue: TaskQueue = request.app.state.task_queue
    return queue


TaskQueueDep = Annotated[TaskQueue, Depends(get_task_queue)]
