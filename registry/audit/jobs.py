"""Large exports as worker jobs, like label sheets: the request answers 202 with a job to
poll, a worker writes the file (streamed, flat memory) and the job's owner downloads it
from /v1/jobs/{id}/result. Each step is its own short transaction."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from registry.audit.export import MEDIA_TYPES, ExportFormat, ExportPlan, export_chunks, file_name
from registry.core.config import Settings
from registry.core.db import unit_of_work
from registry.core.queue import EXPORT_AUDIT, TaskQueue, send_after_commit
from registry.jobs import service as jobs_service
from registry.jobs.models import Job, JobKind
from registry.orgs.models import Organization

PROGRESS_EVERY_SECONDS = 0.5


def create_export_job(
    session: Session,
    *,
    plan: ExportPlan,
    format: ExportFormat,
    total: int,
    actor: Organization,
    queue: TaskQueue,
) -> Job:
    job = Job(
        kind=JobKind.audit_export,
        owner_org_id=actor.id,
        params={"plan": plan.to_json(), "format": format, "file_name": file_name(plan, format)},
        progress_total=total,
    )
    session.add(job)
    session.flush()
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    job_id = job.id

    def not_sent(exc: Exception) -> None:
        # As a label sheet's: the job stays queued and the resend sweep sends it once the
        # broker is back (workers/tasks.py, resend_jobs).
        with unit_of_work(engine, write=True) as s:
            jobs_service.mark_unsent(s, job_id=job_id)

    send_after_commit(session, queue, EXPORT_AUDIT, job.id, on_error=not_sent)
    return job


def run_export_job(engine: Engine, *, job_id: str, settings: Settings) -> None:
    """Write the job's export file and record it; idempotent like the sheet runner."""
    ttl = timedelta(hours=settings.job_result_ttl_hours)
    with unit_of_work(engine, write=True) as session:
        job = jobs_service.start_job(session, job_id=job_id)
        if job is None:
            return
        plan = ExportPlan.from_json(job.params["plan"])
        format: ExportFormat = "csv" if job.params["format"] == "csv" else "epcis"
    output_dir = Path(settings.job_output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / f"{job_id}.{'csv' if format == 'csv' else 'jsonld'}"
    last = 0.0

    def progress(done: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_SECONDS:
            last = now
            with unit_of_work(engine, write=True) as s:
                jobs_service.record_progress(s, job_id=job_id, done=done)

    if not final.is_file():
        partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
        try:
            with partial.open("wb") as out:
                for chunk in export_chunks(
                    engine,
                    plan=plan,
                    format=format,
                    base_url=settings.public_url,
                    progress=progress,
                ):
                    out.write(chunk)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
    with unit_of_work(engine, write=True) as session:
        jobs_service.finish_job(
            session,
            job_id=job_id,
            result_file=final.name,
            size=final.stat().st_size,
            media_type=MEDIA_TYPES[format],
            ttl=ttl,
        )
