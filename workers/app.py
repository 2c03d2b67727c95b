"""The Celery application, configured from the registry's settings.

With `REGISTRY_REDIS_URL` set, Redis is the broker and the result backend; without it,
tasks run in-process (`task_always_eager`), through the same task code. Run workers with
`registry worker` and the schedule with `registry beat` (or `celery -A workers.app ...`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from celery import Celery

from registry.core import queue
from registry.core.config import Settings, get_settings
from registry.verify import invalidation  # noqa: F401  (worker commits reach verify caches)


def _transport_options(settings: Settings) -> dict[str, Any]:
    visibility = settings.task_visibility_timeout
    # Look for abandoned (unacknowledged) messages often enough that one is redelivered
    # soon after its visibility timeout, not up to 100 s later (kombu's default sweep).
    sweep = max(1, min(10, visibility // 3))
    return {
        "visibility_timeout": visibility,
        "unacked_restore_interval": sweep,
        "unacked_restore_throttle": 1,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
    }


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {
        "audit-recent-batches": {
            "task": queue.AUDIT_RECENT_BATCHES,
            "schedule": timedelta(seconds=settings.audit_interval),
            "options": {"expires": settings.audit_interval},
        },
        "expire-jobs": {
            "task": queue.EXPIRE_JOBS,
            "schedule": timedelta(seconds=settings.job_expiry_interval),
            "options": {"expires": settings.job_expiry_interval},
        },
    }
    if settings.log_enabled:
        schedule["publish-checkpoint"] = {
            "task": queue.PUBLISH_CHECKPOINT,
            "schedule": timedelta(seconds=settings.checkpoint_interval),
            # A publication that waited past its interval is superseded by the next one.
            "options": {"expires": settings.checkpoint_interval},
        }
    if settings.redis_url:
        schedule["resend-jobs"] = {
            "task": queue.RESEND_JOBS,
            "schedule": timedelta(seconds=settings.job_resend_interval),
            "options": {"expires": settings.job_resend_interval},
        }
        schedule["drain-scans"] = {
            "task": queue.DRAIN_SCANS,
            "schedule": timedelta(seconds=settings.scan_drain_interval),
            # A drain that waited longer than a few intervals is superseded by a newer one.
            "options": {"expires": max(5.0, settings.scan_drain_interval * 5)},
        }
    return schedule


def create_celery(settings: Settings) -> Celery:
    eager = settings.redis_url is None
    app = Celery("registry")
    app.conf.update(
        broker_url=settings.redis_url or "memory://",
        result_backend=settings.redis_url,
        result_expires=timedelta(hours=1),
        broker_transport_options=_transport_options(settings),
        result_backend_transport_options={"socket_timeout": 10},
        broker_connection_retry_on_startup=True,
        # A task interrupted by a lost broker connection is redelivered (acks_late) anyway.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_default_queue=settings.task_queue,
        task_always_eager=eager,
        task_eager_propagates=False,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_track_started=True,
        # One message at a time per worker process: a long sheet job does not hold others.
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        beat_schedule=beat_schedule(settings),
        imports=["workers.tasks"],
    )
    return app


celery_app = create_celery(get_settings())
F = TypeVar("F", bound=Callable[..., Any])


def registry_task(**options: Any) -> Callable[[F], F]:
    """`celery_app.task(**options)`, typed (Celery ships no type information)."""

    def decorate(fn: F) -> F:
        return cast(F, celery_app.task(**options)(fn))

    return decorate


# `celery -A workers.app` looks for `app` or `celery`.
app = celery_app

import workers.tasks  # noqa: E402, F401  (registers the tasks on celery_app)
