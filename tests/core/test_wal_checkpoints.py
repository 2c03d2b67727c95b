"""SQLite's write-ahead log is copied into the database file by a thread of its own
(`WalCheckpoints`), not by whichever write transaction takes the log past 1,000 pages, so a
writer never waits for a checkpoint inside another writer's turn (issue 15)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from registry.core.db import WalCheckpoints, make_engine, unit_of_work
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
    checkpoints = WalCheckpoints(engine, interval=0.05)
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


def test_stop_ends_the_thread_and_gives_its_connection_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    checkpoints = WalCheckpoints(engine, interval=0.01)
    checkpoints.start()
    time.sleep(0.05)
    checkpoints.stop()
    assert not checkpoints._thread.is_alive()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    engine.dispose()


def test_only_a_sqlite_file_gets_the_thread(tmp_path: Path) -> None:
    on_file = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    assert isinstance(WalCheckpoints.for_engine(on_file), WalCheckpoints)
    for url in ("sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@127.0.0.1:1/x"):
        assert WalCheckpoints.for_engine(make_engine(url)) is None, url


def _checkpoint_threads() -> int:
    return sum(t.name == "sqlite-checkpoints" for t in threading.enumerate())


def test_an_app_runs_the_thread_while_it_serves_a_sqlite_file(engine: Engine) -> None:
    before = _checkpoint_threads()
    with TestClient(create_app(engine)) as client:
        assert client.get("/readyz").status_code == 200
        expected = 1 if engine.dialect.name == "sqlite" else 0
        assert _checkpoint_threads() == before + expected
    assert _checkpoint_threads() == before
