"""Engine, sessions and transaction boundaries for SQLite (default) and PostgreSQL.

A request or task gets one session and commits once at the end, so an event and its
chain-head update land together. Work that must wait for the commit (sending Celery tasks)
is registered with `after_commit`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from typing import Any, ClassVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import DataError, DisconnectionError, IntegrityError, OperationalError
from sqlmodel import Session, create_engine

from registry.core.config import get_settings
from registry.core.errors import Conflict, InvalidInput, RegistryError
from registry.core.periodic import Periodic

_AFTER_COMMIT = "after_commit_callbacks"
_UNIT_OF_WORK = "unit_of_work"
SQLITE_BUSY_SECONDS = 30  # how long a SQLite writer waits for the write lock
IDLE_PING_SECONDS = 2.0  # a pooled PostgreSQL connection idle this long is pinged first


class ServiceUnavailable(RegistryError):
    status_code = 503


# What a client is told for a value PostgreSQL refused, by SQLSTATE: the driver's own
# message (with its DETAIL and CONTEXT lines) is never shown to a client.
_REFUSED_VALUES = {
    "22001": "a text value is longer than the registry stores",
    "22003": "a number is outside the range the registry stores",
    "22021": "a text value holds a character the registry cannot store (e.g. NUL)",
    "22P05": "a text value holds a character the registry cannot store (e.g. NUL)",
}


def refused_value(exc: DataError) -> InvalidInput:
    """A value the database cannot hold or compare (PostgreSQL: a NUL character, a number
    out of the column's range) is the client's input error, not a server fault."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return InvalidInput(_REFUSED_VALUES.get(str(sqlstate), "a value cannot be stored"))


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGINs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
            pool_size=8,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN so writers can ask for IMMEDIATE.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)

    # No ping per checkout (a round trip, three per append): only a connection that sat
    # idle in the pool for a while is pinged, and replaced if it is dead. One that dies
    # while the pool is busy fails its request with 503 ("retry"); SQLAlchemy then sees the
    # disconnect and discards every connection older than it, so the retry reconnects.
    @event.listens_for(engine, "checkin")
    def _idle_from(_: Any, record: Any) -> None:
        record.info["idle_from"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _: Any) -> None:
        idle_from = record.info.get("idle_from")
        if idle_from is None or time.monotonic() - idle_from < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("a pooled connection is dead") from exc

    return engine


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def runs_after_commit(session: Session) -> bool:
    """True for a session of `unit_of_work`, which runs the after-commit work."""
    return bool(session.info.get(_UNIT_OF_WORK))


def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        callback()


@contextmanager
def unit_of_work(engine: Engine | None = None, *, write: bool = False) -> Iterator[Session]:
    """One transaction: commit at the end, roll back on error, then run after-commit work.

    `write=True` takes SQLite's write lock at BEGIN so concurrent appends queue instead of
    failing on a stale snapshot; PostgreSQL writers lock rows instead. This process's SQLite
    writers queue on a lock of their own first: a waiter wakes the moment the writer before
    it commits, where SQLite's busy handler would poll with sleeps of up to 100 ms.
    """
    bind = engine or get_engine()
    turn: AbstractContextManager[object] = nullcontext()
    if write and bind.dialect.name == "sqlite":
        turn = _WriterQueue.of(bind).turn()
        bind = bind.execution_options(sqlite_immediate=True)
    with turn, _transaction(bind) as session:
        yield session
    _run_after_commit(session)


class _WriterQueue:
    """This process's writers to one SQLite database, one at a time and first come, first
    served: the scan recorder writing batch after batch cannot overtake an append that
    waits (a plain lock lets the thread that just released it take it again).

    A turn may begin in one worker thread and end in another (a request's session
    dependency). A write opened inside a write on the same thread skips the queue and
    meets SQLite's own lock, as it did before the queue existed."""

    _queues: ClassVar[dict[str, _WriterQueue]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._issued = 0  # tickets handed out
        self._serving = 0  # the ticket whose turn it is
        self._abandoned: set[int] = set()  # tickets whose holders stopped waiting
        self._owner: int | None = None

    @classmethod
    def of(cls, engine: Engine) -> _WriterQueue:
        key = engine.url.render_as_string(hide_password=False)
        with cls._guard:
            return cls._queues.setdefault(key, cls())

    @contextmanager
    def turn(self) -> Iterator[None]:
        me = threading.get_ident()
        if self._owner == me:
            yield
            return
        self._wait_for_turn()
        self._owner = me
        try:
            yield
        finally:
            self._owner = None
            with self._changed:
                self._next_turn()

    def _wait_for_turn(self) -> None:
        deadline = time.monotonic() + SQLITE_BUSY_SECONDS
        with self._changed:
            ticket = self._issued
            self._issued += 1
            while self._serving != ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._abandoned.add(ticket)
                    raise ServiceUnavailable("the database is busy; retry")
                self._changed.wait(left)

    def _next_turn(self) -> None:
        # The caller holds `_changed`.
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._changed.notify_all()


@contextmanager
def _transaction(bind: Engine) -> Iterator[Session]:
    session = Session(bind, expire_on_commit=False, info={_UNIT_OF_WORK: True})
    try:
        yield session
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        session.info.pop(_AFTER_COMMIT, None)
        # The constraint's name and DETAIL are the driver's words, not the client's business.
        raise Conflict("a concurrent request wrote conflicting data; retry") from exc
    except DataError as exc:
        session.rollback()
        session.info.pop(_AFTER_COMMIT, None)
        raise refused_value(exc) from exc
    except OperationalError as exc:
        session.rollback()
        session.info.pop(_AFTER_COMMIT, None)
        raise ServiceUnavailable("the database is busy or unreachable; retry") from exc
    except BaseException:
        session.rollback()
        session.info.pop(_AFTER_COMMIT, None)
        raise
    finally:
        session.close()


WAL_CHECKPOINT_SECONDS = 0.5


def wal_checkpoints(engine: Engine) -> Periodic | None:
    """SQLite: a thread that copies the write-ahead log into the database file every half
    second, so that no write transaction does it. None for PostgreSQL (which checkpoints
    on its own) and for an in-memory database (no log).

    SQLite checkpoints at the commit that takes its log past 1,000 pages, inside that
    commit, and so inside a writer's turn (`_WriterQueue`): every append queued behind it
    waited for the copy and its fsyncs, 0.3-0.7 s under a flood of scans (issue 15,
    docs/decisions.md "Session 9"). A passive checkpoint never blocks readers or writers,
    and run this often the log stays far below that size, so commits rarely find a
    checkpoint to do (and SQLite's own remains the fallback if this thread stops)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    if engine.url.query.get("mode") == "memory":
        return None
    return Periodic("sqlite-checkpoints", WAL_CHECKPOINT_SECONDS, lambda: checkpoint_wal(engine))


def checkpoint_wal(engine: Engine) -> None:
    """One passive checkpoint of a SQLite database's write-ahead log."""
    connection = engine.raw_connection()
    try:
        connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        connection.close()
