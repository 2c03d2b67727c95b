"""Thin Celery tasks: ids in, open a session (through the service's own runner), commit.

Every task is idempotent, acknowledged late (a worker that dies mid-task leaves the message
to be redelivered) and retried with exponential backoff on transient errors: the database
or Redis unreachable or busy.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from celery import Task
from celery.exceptions import Reject
from sqlalchemy.exc import OperationalError

from registry.alerts.service import raise_chain_alerts
from registry.audit import jobs as audit_jobs
from registry.core.config import get_settings
from registry.core.db import ServiceUnavailable, unit_of_work
from registry.core.queue import (
    AUDIT_RECENT_BATCHES,
    DRAIN_SCANS,
    EXPIRE_JOBS,
    EXPORT_AUDIT,
    PUBLISH_CHECKPOINT,
    RENDER_LABEL_SHEET,
    RESEND_JOBS,
    task_engine,
)
from registry.core.time import utcnow
from registry.jobs import runner
from registry.jobs import service as jobs_service
from registry.log.publisher import publish_now
from registry.scans.stream import drain_scan_stream, redis_client
from workers.app import celery_app, registry_task

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, ServiceUnavailable, redis.ConnectionError, redis.TimeoutError)


class RegistryTask(Task):  # type: ignore[misc]
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT
    retry_backoff = 2
    # Below the visibility timeout: a retry waiting in a worker is not handed out again.
    retry_backoff_max = 30
    retry_jitter = True
    max_retries = 8


class JobTask(RegistryTask):
    """A task working on one job row: a final failure (retries exhausted, or a bug) is
    recorded on the job, so its caller sees `failed` instead of `running` forever."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        job_id = str(args[0]) if args else kwargs.get("job_id")
        try:
            with unit_of_work(task_engine(), write=True) as session:
                # The job's caller sees this: the class only, never a driver's message.
                error = f"internal error ({type(exc).__name__}); ask the operator to check logs"
                jobs_service.fail_job(session, job_id=job_id, error=error)
        except Exception:
            log.exception("could not record the failure of job %s", job_id)


@registry_task(name=RENDER_LABEL_SHEET, base=JobTask, bind=True)
def render_label_sheet(self: Task, job_id: str) -> None:
    """One chunk of the job per message, then the next chunk as a new message (on a
    worker) or in this call (in-process): no message outlives the visibility timeout."""
    settings = get_settings()
    while runner.run_label_sheet(task_engine(), job_id=job_id, settings=settings):
        if not self.request.is_eager:
            try:
                self.apply_async((job_id,), queue=settings.task_queue)
            except Exception as exc:
                # The broker is away: hand this message back (or, with the connection
                # gone, leave it unacknowledged for redelivery) so that the job goes on
                # from its recorded chunk, instead of failing it.
                raise Reject(exc, requeue=True) from exc
            return


@registry_task(name=EXPORT_AUDIT, base=JobTask)
def export_audit(job_id: str) -> None:
    audit_jobs.run_export_job(task_engine(), job_id=job_id, settings=get_settings())


@registry_task(name=DRAIN_SCANS, base=RegistryTask, ignore_result=True)
def drain_scans() -> int:
    settings = get_settings()
    if not settings.redis_url:
        return 0  # no stream: scans are written by the API's in-process buffer
    client = redis_client(settings.redis_url)
    try:
        return drain_scan_stream(
            task_engine(),
            client,
            stream=settings.scan_stream,
            batch_size=settings.scan_drain_batch,
        )
    finally:
        client.close()


@registry_task(name=AUDIT_RECENT_BATCHES, base=RegistryTask)
def audit_recent_batches() -> int:
    """Audit the chains of batches changed within the audit window; returns how many are
    broken (each has an alert)."""
    since = utcnow() - timedelta(minutes=get_settings().audit_window_minutes)
    with unit_of_work(task_engine(), write=True) as session:
        return raise_chain_alerts(session, changed_since=since)


@registry_task(name=EXPIRE_JOBS, base=RegistryTask)
def expire_jobs() -> int:
    """Delete expired jobs, then their files (and any result file no job points at that
    is older than the retention time); returns the number of files deleted."""
    settings = get_settings()
    output_dir = Path(settings.job_output_dir)
    with unit_of_work(task_engine(), write=True) as session:
        names = jobs_service.expire_jobs(session)
    deleted = 0
    for name in names:
        path = output_dir / name
        if path.is_file():
            path.unlink(missing_ok=True)
            deleted += 1
    if output_dir.is_dir():
        with unit_of_work(task_engine()) as session:
            live = jobs_service.live_result_files(session)
        cutoff = utcnow().timestamp() - settings.job_result_ttl_hours * 3600
        for path in output_dir.iterdir():
            if path.name not in live and path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                deleted += 1
    return deleted


@registry_task(name=RESEND_JOBS, base=RegistryTask, ignore_result=True)
def resend_jobs() -> int:
    """Send the messages of queued jobs that could not be sent when they were asked for
    (the broker was unreachable); returns how many were sent. A send that fails again
    raises, and this task is retried (or the next beat tick tries again)."""
    engine, queue_name = task_engine(), get_settings().task_queue
    with unit_of_work(engine) as session:
        pending = jobs_service.unsent_jobs(session)
    for job_id, task in pending:
        celery_app.send_task(task, args=[job_id], queue=queue_name)
        with unit_of_work(engine, write=True) as session:
            jobs_service.mark_sent(session, job_id=job_id)
    return len(pending)


@registry_task(name=PUBLISH_CHECKPOINT, base=RegistryTask, ignore_result=True)
def publish_checkpoint() -> int | None:
    """Integrate queued events into the log and sign a checkpoint if the tree grew."""
    return publish_now(task_engine(), get_settings())
