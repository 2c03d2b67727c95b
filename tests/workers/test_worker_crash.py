"""A worker killed in the middle of a label sheet job, with the default settings (only the
database and Redis URLs set): the job runs in chunks, each its own message, so the killed
worker's chunk goes to another worker after the visibility timeout (60 s) and the job
continues from its last finished chunk instead of starting over (issue 11: it used to sit
`running` for an hour, then start again from the first label)."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from registry.core.config import Settings
from registry.jobs.service import sheet_chunk_size
from tests.factories import World, label_codes
from tests.jobs.sheet_checks import labeled_run, read_sheet, wait_for_job
from tests.worker_process import TaskMode, settings_env

COUNT = 1400
LAYOUT = "a4-4x10"  # 40 labels a page, 480 a chunk: 3 chunks
RESUME_DEADLINE = 180.0  # seconds we wait for a resumption before calling it lost


@pytest.fixture
def default_settings(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TaskMode]:
    """Every setting at its default but the Redis URL: the default queue, visibility timeout
    and `./registry-jobs` (the API in this process and the workers run in `tmp_path`)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("REGISTRY_") and not name.startswith("REGISTRY_TEST_"):
            monkeypatch.delenv(name)
    mode = TaskMode("redis", {"REGISTRY_REDIS_URL": redis_url}, tmp_path)
    queue = Settings().task_queue
    client = mode.redis_client()
    client.delete(queue)
    with settings_env(mode.env):
        try:
            yield mode
        finally:
            mode.stop_all()
            client.delete(queue)
            client.close()


def _job_row(engine: Engine, job_id: str) -> dict[str, int]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT attempts, chunks_done, progress_done FROM jobs WHERE id = :id"),
            {"id": job_id},
        ).one()
    return {"attempts": row[0], "chunks_done": row[1], "progress_done": row[2]}


# Workers on Redis run against PostgreSQL in production; SQLite is the no-Redis default.
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_killed_worker_s_job_is_resumed_from_its_last_chunk(
    default_settings: TaskMode,
    world: World,
    engine: Engine,
    tmp_path: Path,
    record_property: Callable[[str, Any], None],
) -> None:
    assert Settings().task_visibility_timeout == 60  # the default, not a test's shortcut
    size = sheet_chunk_size(LAYOUT)
    chunks = math.ceil(COUNT / size)
    run = labeled_run(world, COUNT)
    first = default_settings.start_worker(engine, cwd=tmp_path)
    r = world.call(
        "POST", f"/v1/labels/runs/{run['run_id']}/sheet", world.coop, json={"layout": LAYOUT}
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]

    deadline = time.monotonic() + 120
    while True:  # at least one chunk finished, and the next one part rendered
        row = _job_row(engine, job_id)
        if (
            1 <= row["chunks_done"] < chunks - 1
            and row["progress_done"] > row["chunks_done"] * size
        ):
            break
        assert row["chunks_done"] < chunks - 1, "the job got too far before the kill"
        assert time.monotonic() < deadline, row
        time.sleep(0.05)
    default_settings.kill(first)  # SIGKILL: no chance to acknowledge, reject or clean up
    killed_at = time.monotonic()
    at_kill = _job_row(engine, job_id)

    default_settings.start_worker(engine, cwd=tmp_path)
    while True:  # another worker starts a chunk of this job
        row = _job_row(engine, job_id)
        if row["attempts"] > at_kill["attempts"]:
            break
        assert time.monotonic() - killed_at < RESUME_DEADLINE, "the job was never resumed"
        time.sleep(0.2)
    resumed_after = time.monotonic() - killed_at
    assert row["chunks_done"] >= at_kill["chunks_done"]  # nothing finished was undone
    record_property("resumed_after_seconds", round(resumed_after, 1))
    sys.stdout.write(  # the figure; shown with `pytest -s`
        f"\nkilled in chunk {at_kill['chunks_done'] + 1}/{chunks}; "
        f"resumed {resumed_after:.1f} s later\n"
    )

    job = wait_for_job(world, job_id, world.coop, until=("succeeded", "failed"), timeout=120)
    assert job["state"] == "succeeded", job
    # One start per chunk, plus the one chunk the killed worker had begun: no start-over.
    assert _job_row(engine, job_id)["attempts"] == chunks + 1
    sheet = read_sheet(world.call("GET", job["result_url"], world.coop).content)
    assert sheet.pages == math.ceil(COUNT / 40)
    assert sorted(sheet.urls) == sorted(label_codes(world, run["run_id"]))  # each label once
    output = tmp_path / "registry-jobs"
    assert [p.name for p in output.iterdir()] == [f"{job_id}.pdf"]  # chunks and partials gone
