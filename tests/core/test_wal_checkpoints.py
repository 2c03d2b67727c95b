"""SQLite's write-ahead log is copied into the database file by a thread of its own
(`wal_checkpoints`), not by whichever write transaction takes the log past 1,000 pages, so a
writer never waits for a checkpoint inside another writer's turn (issue 15)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from registry.core.db import checkpoint_wal, make_engine, unit_of_work, wal_checkpoints
from registry.core.periodic import Periodic
from registry.main import create_app


def _rows_in_database_file(db: Path, tmp_path: Path) -> int:
    """Rows of `t` in the database file alone: a copy without its -wal holds only what a
    checkpoint has copied there."""
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchone()
        return conn.execute("SELECT count(*) FROM t").fetchone()[0] if found else 0


def test_the_thread_copies_the_log_into_the_database_file(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    url = f"sqlite:///{db}"
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (x)")
    writer.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(500)])
    writer.commit()  # the connection stays open: closing the last one would checkpoint
    assert _rows_in_database_file(db, tmp_path) == 0

    engine = make_engine(url)
    checkpoints = Periodic("sqlite-checkpoints", 0.05, lambda: checkpoint_wal(engine))
    checkpoints.start()
    try:
        deadline = time.monotonic() + 10
        while _rows_in_database_file(db, tmp_path) != 500 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _rows_in_database_file(db, tmp_path) == 500
        # Writes go on meanwhile, and reach the file too.
        writer.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(500)])
        writer.commit()
        while _rows_in_database_file(db, tmp_path) != 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _rows_in_database_file(db, tmp_path) == 1000
    finally:
        checkpoints.stop()
        writer.close()
    with unit_of_work(engine) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 1000
    engine.dispose()


def test_a_checkpoint_gives_its_connection_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    checkpoint_wal(engine)
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    engine.dispose()


def test_periodic_work_goes_on_after_a_failure_and_stops_when_told() -> None:
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first time")

    periodic = Periodic("test-periodic", 0.01, work)
    periodic.start()
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    periodic.stop()
    assert len(calls) >= 3
    assert not periodic.running
    stopped_at = len(calls)
    time.sleep(0.05)
    assert len(calls) == stopped_at


def test_only_a_sqlite_file_gets_the_thread(tmp_path: Path) -> None:
    on_file = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    assert isinstance(wal_checkpoints(on_file), Periodic)
    for url in ("sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@127.0.0.1:1/x"):
        assert wal_checkpoints(make_engine(url)) is None, url


def _checkpoint_threads() -> int:
    return sum(t.name == "sqlite-checkpoints" for t in threading.enumerate())


def test_an_app_runs_the_thread_while_it_serves_a_sqlite_file(engine: Engine) -> None:
    before = _checkpoint_threads()
    with TestClient(create_app(engine)) as client:
        assert client.get("/readyz").status_code == 200
        expected = 1 if engine.dialect.name == "sqlite" else 0
        assert _checkpoint_threads() == before + expected
    assert _checkpoint_threads() == before
