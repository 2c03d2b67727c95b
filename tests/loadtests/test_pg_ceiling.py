"""The database's own ceiling for an append (`bench_log --only ceiling`) replays the
server's statements with pgbench: they must still run and still place each event in the
log, or the ceiling it reports would be that of some other transaction."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from loadtests.bench_log import pgbench_script
from tests.factories import World


@pytest.mark.parametrize("log_on", [True, False])
def test_pgbench_replays_an_append_that_the_log_takes_in(
    world: World, tmp_path: Path, log_on: bool
) -> None:
    if world.engine.dialect.name != "postgresql" or shutil.which("pgbench") is None:
        pytest.skip("pgbench against PostgreSQL")
    batch_id = world.new_batch()["id"]
    script = pgbench_script(tmp_path, batch_id, world.coop.id, log_on=log_on)
    url = world.engine.url
    subprocess.run(
        ["pgbench", "-n", "-M", "extended", "-c", "1", "-t", "5", "-h", url.host or "",
         "-p", str(url.port or 5432), "-U", url.username or "", "-f", str(script),
         url.database or ""],
        check=True, capture_output=True,
    )  # fmt: skip
    with world.engine.connect() as conn:
        seqs = (
            conn.execute(
                text("SELECT seq FROM events WHERE batch_id = :b ORDER BY seq"), {"b": batch_id}
            )
            .scalars()
            .all()
        )
        leaves = (
            conn.execute(
                text("SELECT seq FROM log_leaves WHERE batch_id = :b ORDER BY seq"), {"b": batch_id}
            )
            .scalars()
            .all()
        )
        head = conn.execute(
            text("SELECT head_seq FROM batches WHERE id = :b"), {"b": batch_id}
        ).scalar_one()
    assert seqs == [0, 1, 2, 3, 4, 5]
    assert head == 5
    assert leaves == ([0, 1, 2, 3, 4, 5] if log_on else [0])
