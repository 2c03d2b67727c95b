"""Label sheet jobs over HTTP, with tasks in-process (eager) and on a real Celery worker:
request -> 202 -> poll -> a PDF whose QR codes decode to the run's URLs."""

from __future__ import annotations

import math
import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import get_args

import pytest
from sqlalchemy import Engine, text

from registry.core.queue import bound_engine
from registry.core.time import utcnow
from registry.jobs.schemas import SheetLayoutName
from registry.labels.sheets import LAYOUTS
from tests.factories import World, label_codes, labeled_batch
from tests.jobs.sheet_checks import read_sheet, wait_for_job
from tests.worker_process import TaskMode


def test_layout_names_in_the_api_are_the_renderer_s() -> None:
    assert set(get_args(SheetLayoutName)) == set(LAYOUTS)


@pytest.mark.parametrize(("layout", "count"), [("a4-4x10", 50)])
def test_sheet_job_renders_every_label_of_the_run(
    task_mode: TaskMode,
    world: World,
    worker: subprocess.Popen[bytes] | None,
    layout: str,
    count: int,
) -> None:
    _, run = labeled_batch(world, units=count, count=count)
    r = world.call(
        "POST", f"/v1/labels/runs/{run['run_id']}/sheet", world.coop, json={"layout": layout}
    )
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["state"] == "queued"
    assert queued["kind"] == "label_sheet"
    assert queued["progress"] == {"done": 0, "total": count}
    assert queued["result_url"] is None
    assert r.headers["location"] == f"/v1/jobs/{queued['job_id']}"

    job = wait_for_job(world, queued["job_id"], world.coop, until=("succeeded", "failed"))
    assert job["state"] == "succeeded", job
    assert job["progress"] == {"done": count, "total": count}
    assert job["error"] is None
    assert job["result_url"] == f"/v1/jobs/{queued['job_id']}/result"

    pdf = world.call("GET", job["result_url"], world.coop)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    sheet = read_sheet(pdf.content)
    assert sheet.pages == math.ceil(count / LAYOUTS[layout].per_page)
    expected = label_codes(world, run["run_id"])
    assert sorted(sheet.urls) == sorted(expected)
    assert "(01) 06901234567892" in sheet.text
    assert "(21) 00000001" in sheet.text
    assert f"(21) {count:08d}" in sheet.text


def test_each_layout_fills_its_pages(eager_mode: TaskMode, world: World) -> None:
    _, run = labeled_batch(world, units=70, count=70)
    for layout in LAYOUTS.values():
        r = world.call(
            "POST",
            f"/v1/labels/runs/{run['run_id']}/sheet",
            world.coop,
            json={"layout": layout.name},
        )
        assert r.status_code == 202, r.text
        job = wait_for_job(world, r.json()["job_id"], world.coop, until=("succeeded",))
        sheet = read_sheet(world.call("GET", job["result_url"], world.coop).content)
        assert sheet.pages == math.ceil(70 / layout.per_page), layout.name
        assert len(sheet.urls) == 70


def test_jobs_are_seen_only_by_their_creator(eager_mode: TaskMode, world: World) -> None:
    _, run = labeled_batch(world, units=10, count=10)
    path = f"/v1/labels/runs/{run['run_id']}/sheet"
    r = world.call("POST", path, world.owner, json={"layout": "a4-3x8"})  # the brand owner
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    job = wait_for_job(world, job_id, world.owner, until=("succeeded",))
    for other in (world.coop, world.coop2, world.regulator, world.admin):
        for url in (f"/v1/jobs/{job_id}", job["result_url"]):
            denied = world.call("GET", url, other)
            assert denied.status_code == 404, (other.kind, denied.text)
            assert denied.json()["error"] == "JobNotFound"
    assert world.call("GET", f"/v1/jobs/{job_id}").status_code == 401

    # Who may print: whoever may read the run's codes.
    assert world.call("POST", path, world.handler, json={}).status_code == 403
    assert world.call("POST", path, world.coop2, json={}).status_code == 403
    missing = world.call("POST", "/v1/labels/runs/nope/sheet", world.coop, json={})
    assert missing.status_code == 404
    bad = world.call("POST", path, world.coop, json={"layout": "a3-1x1"})
    assert bad.status_code == 422
    assert bad.json()["error"] == "ValidationError"


def test_expired_jobs_and_their_files_are_deleted(
    eager_mode: TaskMode, world: World, engine: Engine
) -> None:
    from workers.tasks import expire_jobs

    _, run = labeled_batch(world, units=5, count=5)
    r = world.call("POST", f"/v1/labels/runs/{run['run_id']}/sheet", world.coop, json={})
    job_id = r.json()["job_id"]
    job = wait_for_job(world, job_id, world.coop, until=("succeeded",))
    output = Path(eager_mode.env["REGISTRY_JOB_OUTPUT_DIR"])
    assert (output / f"{job_id}.pdf").is_file()
    orphan = output / "left-behind.pdf"
    orphan.write_bytes(b"%PDF-")

    with bound_engine(engine):
        assert expire_jobs.apply().get() == 0  # nothing has expired yet
    assert world.call("GET", job["result_url"], world.coop).status_code == 200

    past = utcnow() - timedelta(hours=80)
    with engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET expires_at = :t"), {"t": past + timedelta(hours=8)})
    os.utime(orphan, (past.timestamp(), past.timestamp()))
    with bound_engine(engine):
        assert expire_jobs.apply().get() == 2
    assert not (output / f"{job_id}.pdf").exists()
    assert not orphan.exists()
    assert world.call("GET", f"/v1/jobs/{job_id}", world.coop).status_code == 404
