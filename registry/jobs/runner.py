"""Runs a label sheet job for a worker task, one chunk per call: the job's transaction
boundaries, as a request handler has them for a request. Each step is its own short
transaction (start, progress, chunk finished, finish), so rendering never holds a lock.

A job of N labels is rendered in chunks of `job.chunk_size` labels (whole pages), each to
its own PDF file; `job.chunks_done` records the progress. The task renders the next
chunk and sends itself again, so each message is short: a worker killed mid-job leaves
one unacknowledged chunk, which the broker hands to another worker after its visibility
timeout, and that worker continues from the last finished chunk. When every chunk is
done, the chunk files are joined into the result.

Idempotent: a finished job is left alone; every file is written to a temporary name and
renamed into place, so a killed worker leaves no half file; a chunk finished twice (a
redelivered message racing its successor) is recorded once, and only the delivery that
recorded it goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pypdf
from sqlalchemy import Engine
from sqlmodel import Session

from registry.batches.service import get_batch
from registry.core.config import Settings
from registry.core.db import unit_of_work
from registry.core.errors import RegistryError
from registry.jobs import service
from registry.jobs.models import Job
from registry.labels import service as labels_service
from registry.labels.sheets import LAYOUTS, SheetLabel, render_sheet
from registry.orgs.models import Organization

CODES_PER_QUERY = 2000
PROGRESS_EVERY_SECONDS = 0.5


@dataclass(frozen=True)
class _SheetPlan:
    run_id: str
    owner_org_id: str
    layout: str
    count: int
    gtin: str
    lot: str

    @property
    def title(self) -> str:
        return f"Labels of run {self.run_id}"


def result_name(job_id: str) -> str:
    return f"{job_id}.pdf"


def chunk_name(job_id: str, chunk: int) -> str:
    return f".{job_id}.chunk{chunk:05d}.pdf"


def run_label_sheet(engine: Engine, *, job_id: str, settings: Settings) -> bool:
    """Render the job's next chunk, or join the chunks into the result once all are done.
    True when more chunks remain and this call finished one (the caller sends the next
    task); False when the job is finished, failed, or another delivery moved it on.
    Domain refusals (the run or its owner's access gone, the key revoked) fail the job;
    database and Redis outages raise, for the task to retry."""
    ttl = timedelta(hours=settings.job_result_ttl_hours)
    with unit_of_work(engine, write=True) as session:
        job = service.start_job(session, job_id=job_id)
        if job is None:
            return False
        chunk, size = job.chunks_done, job.chunk_size
        try:
            plan = _plan(session, job)
        except RegistryError as exc:
            service.fail_job(session, job_id=job_id, error=exc.detail, ttl=ttl)
            return False
    output_dir = Path(settings.job_output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    chunks = max(1, -(-plan.count // size))
    final = output_dir / result_name(job_id)
    if chunk < chunks and not final.is_file():
        try:
            _render_chunk(
                engine, plan, settings, job_id=job_id, chunk=chunk, size=size, out=output_dir
            )
        except RegistryError as exc:
            with unit_of_work(engine, write=True) as session:
                service.fail_job(session, job_id=job_id, error=exc.detail, ttl=ttl)
            return False
        with unit_of_work(engine, write=True) as session:
            advanced = service.finish_chunk(session, job_id=job_id, chunk=chunk)
        if chunk + 1 < chunks:
            return advanced
        if not advanced:
            return False
    if not final.is_file():
        _join(output_dir, job_id=job_id, chunks=chunks, final=final, title=plan.title)
    with unit_of_work(engine, write=True) as session:
        service.finish_job(
            session,
            job_id=job_id,
            result_file=final.name,
            size=final.stat().st_size,
            media_type=service.PDF,
            ttl=ttl,
        )
    for n in range(chunks):
        (output_dir / chunk_name(job_id, n)).unlink(missing_ok=True)
    return False


def _plan(session: Session, job: Job) -> _SheetPlan:
    run = labels_service.get_run(session, str(job.params["run_id"]))
    batch = get_batch(session, run.batch_id)
    return _SheetPlan(
        run_id=run.id,
        owner_org_id=job.owner_org_id,
        layout=str(job.params["layout"]),
        count=run.count,
        gtin=batch.gtin or "",
        lot=batch.lot,
    )


def _labels(
    engine: Engine, plan: _SheetPlan, settings: Settings, start: int, stop: int
) -> Iterator[SheetLabel]:
    """The run's labels `start` to `stop` in serial order, signed a query at a time (each
    its own short read; access is checked against the job owner's current rights)."""
    for offset in range(start, min(stop, plan.count), CODES_PER_QUERY):
        with unit_of_work(engine) as session:
            owner = session.get(Organization, plan.owner_org_id)
            assert owner is not None  # organizations are never deleted
            _, codes = labels_service.run_codes(
                session,
                run_id=plan.run_id,
                actor=owner,
                offset=offset,
                limit=min(CODES_PER_QUERY, stop - offset),
                base_url=settings.public_url,
                passphrase=settings.key_passphrase,
            )
        for code in codes:
            yield SheetLabel(url=code.url, gtin=plan.gtin, lot=plan.lot, serial=code.serial)


def _render_chunk(
    engine: Engine,
    plan: _SheetPlan,
    settings: Settings,
    *,
    job_id: str,
    chunk: int,
    size: int,
    out: Path,
) -> None:
    """Labels `chunk * size` up to the next chunk, as whole pages, into the chunk's file."""
    first = chunk * size
    last = 0.0

    def progress(done: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_SECONDS:
            last = now
            with unit_of_work(engine, write=True) as session:
                service.record_progress(session, job_id=job_id, done=first + done)

    target = out / chunk_name(job_id, chunk)
    if target.is_file():  # rendered by a delivery killed before it could record it
        return
    partial = out / f"{target.name}.{os.getpid()}.partial"
    try:
        render_sheet(
            partial,
            layout=LAYOUTS[plan.layout],
            labels=_labels(engine, plan, settings, first, first + size),
            title=plan.title,
            progress=progress,
        )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _join(out: Path, *, job_id: str, chunks: int, final: Path, title: str) -> None:
    """The chunks' pages, in order, as the result PDF (written aside, renamed in place)."""
    writer = pypdf.PdfWriter()
    for n in range(chunks):
        writer.append(str(out / chunk_name(job_id, n)))
    writer.add_metadata({"/Title": title, "/Creator": "Origin Registry"})
    partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as fh:
            writer.write(fh)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
