"""Runs a label sheet job for a worker task: the job's transaction boundaries, as a request
handler has them for a request. Each step is its own short transaction (start, progress,
finish), so rendering thousands of labels never holds a lock.

Idempotent: a finished job is left alone; the PDF is written to a temporary name and
renamed into place, so a worker killed mid-render leaves no half file, and a redelivered
task whose PDF is already in place only records it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

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


def result_name(job_id: str) -> str:
    return f"{job_id}.pdf"


def run_label_sheet(engine: Engine, *, job_id: str, settings: Settings) -> None:
    """Render the job's sheet and record the outcome. Domain refusals (the run or its
    owner's access gone, the key revoked) fail the job; database and Redis outages raise,
    for the task to retry."""
    ttl = timedelta(hours=settings.job_result_ttl_hours)
    with unit_of_work(engine, write=True) as session:
        job = service.start_job(session, job_id=job_id)
        if job is None:
            return
        try:
            plan = _plan(session, job)
        except RegistryError as exc:
            service.fail_job(session, job_id=job_id, error=exc.detail, ttl=ttl)
            return
    output_dir = Path(settings.job_output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / result_name(job_id)
    try:
        if not final.is_file():
            _render(engine, plan, job_id=job_id, final=final, settings=settings)
    except RegistryError as exc:
        with unit_of_work(engine, write=True) as session:
            service.fail_job(session, job_id=job_id, error=exc.detail, ttl=ttl)
        return
    with unit_of_work(engine, write=True) as session:
        service.finish_job(
            session,
            job_id=job_id,
            result_file=final.name,
            size=final.stat().st_size,
            media_type=service.PDF,
            ttl=ttl,
        )


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


def _labels(engine: Engine, plan: _SheetPlan, settings: Settings) -> Iterator[SheetLabel]:
    """The run's labels in serial order, signed a page at a time (each page its own short
    read; access is checked against the job owner's current rights on every page)."""
    for offset in range(0, plan.count, CODES_PER_QUERY):
        with unit_of_work(engine) as session:
            owner = session.get(Organization, plan.owner_org_id)
            assert owner is not None  # organizations are never deleted
            _, codes = labels_service.run_codes(
                session,
                run_id=plan.run_id,
                actor=owner,
                offset=offset,
                limit=CODES_PER_QUERY,
                base_url=settings.public_url,
                passphrase=settings.key_passphrase,
            )
        for code in codes:
            yield SheetLabel(url=code.url, gtin=plan.gtin, lot=plan.lot, serial=code.serial)


def _render(
    engine: Engine, plan: _SheetPlan, *, job_id: str, final: Path, settings: Settings
) -> None:
    last = 0.0

    def progress(done: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_SECONDS:
            last = now
            with unit_of_work(engine, write=True) as session:
                service.record_progress(session, job_id=job_id, done=done)

    partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
    try:
        render_sheet(
            partial,
            layout=LAYOUTS[plan.layout],
            labels=_labels(engine, plan, settings),
            title=f"Labels of run {plan.run_id}",
            progress=progress,
        )
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
