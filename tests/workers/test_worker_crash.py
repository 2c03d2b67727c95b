"""A worker killed in the middle of a job: the task was acknowledged late, so Redis hands
it to the next worker after the visibility timeout, and that worker finishes the job."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.factories import World, label_codes
from tests.jobs.sheet_checks import labeled_run, read_sheet, wait_for_job
from tests.worker_process import TaskMode

COUNT = 1000  # a few seconds of rendering: long enough to be killed in the middle


# Workers on Redis run against PostgreSQL in production; SQLite is the no-Redis default.
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_killed_worker_leaves_the_job_to_the_next_worker(
    redis_mode: TaskMode, world: World, engine: Engine
) -> None:
    run = labeled_run(world, COUNT)
    first = redis_mode.start_worker(engine)
    r = world.call(
        "POST", f"/v1/labels/runs/{run['run_id']}/sheet", world.coop, json={"layout": "a4-4x10"}
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]

    deadline = time.monotonic() + 30
    while True:  # rendering has started and reported progress
        job = wait_for_job(world, job_id, world.coop, until=("running", "succeeded"))
        assert job["state"] == "running", "the job finished before the worker could be killed"
        if job["progress"]["done"] > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    redis_mode.kill(first)  # SIGKILL: no chance to acknowledge, reject or clean up

    job = wait_for_job(world, job_id, world.coop, until=("running",))
    assert 0 < job["progress"]["done"] < COUNT
    output = Path(redis_mode.env["REGISTRY_JOB_OUTPUT_DIR"])
    assert not (output / f"{job_id}.pdf").exists()  # no half-written result in place

    redis_mode.start_worker(engine)
    job = wait_for_job(world, job_id, world.coop, until=("succeeded", "failed"), timeout=60)
    assert job["state"] == "succeeded", job
    with engine.connect() as conn:
        attempts = conn.execute(text("SELECT attempts FROM jobs WHERE id = :id"), {"id": job_id})
        assert attempts.scalar_one() == 2
    sheet = read_sheet(world.call("GET", job["result_url"], world.coop).content)
    assert sheet.pages == 25  # 1000 labels, 40 to a page
    assert sorted(sheet.urls) == sorted(label_codes(world, run["run_id"]))
    assert [p.name for p in output.iterdir()] == [f"{job_id}.pdf"]  # the partial is gone
