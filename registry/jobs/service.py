"""Jobs: create one for a caller, show it only to that caller, and move it through its
states (queued -> running -> succeeded | failed) as a worker reports.

A job row is the truth about a job; the Celery message only says "work on job X", so a
redelivered or duplicated message finds the job's state and does nothing twice. A job
whose message could not be sent (the broker unreachable) stays queued, marked unsent, and
is sent again by the resend sweep once the broker is back: the job row is the outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry.core.db import unit_of_work
from registry.core.queue import EXPORT_AUDIT, RENDER_LABEL_SHEET, TaskQueue, send_after_commit
from registry.core.time import utcnow
from registry.jobs.exceptions import JobNotFound, JobResultGone, JobResultNotReady
from registry.jobs.models import FINISHED_STATES, Job, JobKind, JobState
from registry.labels import service as labels_service
from registry.labels.exceptions import KeyRevoked
from registry.labels.layouts import check_run_fits
from registry.labels.models import KeyStatus
from registry.labels.sheets import LAYOUTS
from registry.orgs.models import Organization

PDF = "application/pdf"
MAX_ERROR_LENGTH = 2000
# A sheet job renders at most this many labels per task (whole pages): a chunk takes
# seconds, far below the broker's visibility timeout, so a chunk is never redelivered
# while it runs, and a killed worker's chunk goes to another worker within that timeout.
SHEET_CHUNK_LABELS = 500
# The task that works on a job of each kind.
JOB_TASKS = {JobKind.label_sheet: RENDER_LABEL_SHEET, JobKind.audit_export: EXPORT_AUDIT}


def sheet_chunk_size(layout: str) -> int:
    per_page = LAYOUTS[layout].per_page
    return max(1, SHEET_CHUNK_LABELS // per_page) * per_page


def create_label_sheet_job(
    session: Session,
    *,
    run_id: str,
    layout: str,
    actor: Organization,
    queue: TaskQueue,
    base_url: str,
) -> Job:
    """A job that renders every label of the run onto printable sheets; the render task is
    sent once the transaction commits. Refused like reading the run's codes (404/403), for
    a run whose key is revoked (its labels would verify invalid), and for a run whose
    labels (as written for `base_url`) do not fit the layout (422, with the reason)."""
    run, batch = labels_service.readable_run(session, run_id=run_id, actor=actor)
    check_run_fits(run, batch, layout=layout, base_url=base_url)
    key = labels_service.get_key(session, run.key_id)
    if key.status == KeyStatus.revoked:
        raise KeyRevoked(
            f"key {key.key_id} of label run {run.id} is revoked: its labels verify as invalid"
        )
    job = Job(
        kind=JobKind.label_sheet,
        owner_org_id=actor.id,
        params={"run_id": run.id, "layout": layout},
        progress_total=run.count,
        chunk_size=sheet_chunk_size(layout),
    )
    session.add(job)
    session.flush()
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    job_id = job.id

    def not_sent(exc: Exception) -> None:
        # The job committed but its message could not be sent: it stays queued, and the
        # resend sweep sends it once the broker is back.
        with unit_of_work(engine, write=True) as s:
            mark_unsent(s, job_id=job_id)

    send_after_commit(session, queue, RENDER_LABEL_SHEET, job.id, on_error=not_sent)
    return job


def mark_unsent(session: Session, *, job_id: str) -> None:
    """Record that the queued job's message could not be sent (kept from the first time)."""
    job = _locked(session, job_id)
    if job is not None and job.state == JobState.queued and job.unsent_since is None:
        job.unsent_since = utcnow()
        session.add(job)
        session.flush()


def unsent_jobs(session: Session, *, limit: int = 200) -> list[tuple[str, str]]:
    """(job id, task name) of queued jobs whose message is still to be sent, oldest first."""
    rows = session.exec(
        select(Job.id, Job.kind)
        .where(Job.state == JobState.queued, col(Job.unsent_since).is_not(None))
        .order_by(col(Job.unsent_since))
        .limit(limit)
    )
    return [(job_id, JOB_TASKS[JobKind(kind)]) for job_id, kind in rows]


def mark_sent(session: Session, *, job_id: str) -> None:
    job = _locked(session, job_id)
    if job is not None and job.unsent_since is not None:
        job.unsent_since = None
        session.add(job)
        session.flush()


def get_job(session: Session, *, job_id: str, actor: Organization) -> Job:
    """The caller's own job; another organization's job is reported as not found."""
    job = session.get(Job, job_id)
    if job is None or job.owner_org_id != actor.id:
        raise JobNotFound(f"job {job_id} not found")
    return job


def job_result(
    session: Session, *, job_id: str, actor: Organization, output_dir: Path
) -> tuple[Path, str, str]:
    """The finished job's result: (file path, media type, download file name)."""
    job = get_job(session, job_id=job_id, actor=actor)
    if job.state != JobState.succeeded or job.result_file is None:
        raise JobResultNotReady(f"job {job.id} is {job.state}; it has no result to download")
    path = output_dir / job.result_file
    if not path.is_file():
        raise JobResultGone(f"the result of job {job.id} is no longer available")
    name = str(job.params.get("file_name") or f"labels-{job.params.get('run_id', job.id)}.pdf")
    return path, job.result_media_type or PDF, name


# --- the worker's side --------------------------------------------------------------------


def _locked(session: Session, job_id: str) -> Job | None:
    return session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()


def start_job(session: Session, *, job_id: str) -> Job | None:
    """Mark the job running before one of its chunks is rendered, and count the start;
    None if it is unknown or already finished (a duplicate or late delivery). The chunk
    size is fixed at the first start; progress goes back to the last finished chunk, which
    is where a job left by a worker that died resumes."""
    job = _locked(session, job_id)
    if job is None or job.state in FINISHED_STATES:
        return None
    job.state = JobState.running
    job.started_at = job.started_at or utcnow()
    job.attempts += 1
    if job.chunk_size <= 0:  # a job queued before chunks existed: one chunk
        job.chunk_size = max(1, job.progress_total)
    job.progress_done = min(job.chunks_done * job.chunk_size, job.progress_total)
    session.add(job)
    session.flush()
    return job


def finish_chunk(session: Session, *, job_id: str, chunk: int) -> bool:
    """Record chunk `chunk` as finished; False if the job has moved on meanwhile (another
    delivery of the same task finished it first) or is finished."""
    job = _locked(session, job_id)
    if job is None or job.state != JobState.running or job.chunks_done != chunk:
        return False
    job.chunks_done = chunk + 1
    job.progress_done = min(job.chunks_done * job.chunk_size, job.progress_total)
    session.add(job)
    session.flush()
    return True


def record_progress(session: Session, *, job_id: str, done: int) -> None:
    job = _locked(session, job_id)
    if job is not None and job.state == JobState.running:
        job.progress_done = min(done, job.progress_total)
        session.add(job)
        session.flush()


def finish_job(
    session: Session, *, job_id: str, result_file: str, size: int, media_type: str, ttl: timedelta
) -> None:
    job = _locked(session, job_id)
    if job is None or job.state in FINISHED_STATES:
        return
    now = utcnow()
    job.state = JobState.succeeded
    job.progress_done = job.progress_total
    job.result_file, job.result_size, job.result_media_type = result_file, size, media_type
    job.finished_at, job.expires_at = now, now + ttl
    session.add(job)
    session.flush()


def fail_job(
    session: Session, *, job_id: str, error: str, ttl: timedelta = timedelta(hours=72)
) -> None:
    job = _locked(session, job_id)
    if job is None or job.state in FINISHED_STATES:
        return
    now = utcnow()
    job.state = JobState.failed
    job.error = error[:MAX_ERROR_LENGTH]
    job.finished_at, job.expires_at = now, now + ttl
    session.add(job)
    session.flush()


def expire_jobs(session: Session, *, now: datetime | None = None) -> list[str]:
    """Delete finished jobs past their expiry; returns their result file names, which the
    caller deletes once this commits (a file outliving its row is swept later)."""
    now = now or utcnow()
    expired = list(
        session.exec(
            select(Job).where(
                col(Job.state).in_([str(s) for s in FINISHED_STATES]),
                col(Job.expires_at) <= now,
            )
        )
    )
    files = [job.result_file for job in expired if job.result_file]
    for job in expired:
        session.delete(job)
    session.flush()
    return files


def live_result_files(session: Session) -> set[str]:
    """The result file names that a stored job still points at."""
    rows = session.exec(select(Job.result_file).where(col(Job.result_file).is_not(None)))
    return {name for name in rows if name}
