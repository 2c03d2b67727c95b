"""Batch row locks taken in one global order, and bounded retries of the work that the
database aborted to break a deadlock or a serialization conflict.

A request that writes to several batches locks all of them first, sorted by id, so two
requests naming the same batches in opposite orders queue instead of deadlocking. Locks
taken later (a licence for the quota check, the unique index on idempotency keys) can
still form a cycle; PostgreSQL then aborts one statement with SQLSTATE 40P01, and the
work is retried from a savepoint that releases every lock it took.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from registry.batches.models import Batch

T = TypeVar("T")

# serialization_failure, deadlock_detected (PostgreSQL SQLSTATE codes).
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
DEFAULT_ATTEMPTS = 5
LOCKED_BATCHES = "locked_batch_ids"  # session.info: ids whose row lock this transaction holds
_BASE_DELAY = 0.02  # seconds; doubled per attempt, with full jitter


def lock_batches(session: Session, batch_ids: Iterable[str]) -> dict[str, Batch]:
    """Lock the existing batches among `batch_ids` in ascending id order (PostgreSQL
    `FOR UPDATE`; SQLite writers already hold the database lock) and return them, freshly
    read. Unknown ids are left out: the caller reports them per item. Until the next call,
    `get_batch(lock=True)` of this session takes them without another query."""
    locked: dict[str, Batch] = {}
    session.info[LOCKED_BATCHES] = locked.keys()
    for batch_id in sorted(set(batch_ids)):
        batch = session.exec(
            select(Batch)
            .where(Batch.id == batch_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        if batch is not None:
            locked[batch_id] = batch
    return locked


def is_retryable(exc: DBAPIError) -> bool:
    """A deadlock victim or a serialization failure: the same work may succeed if redone."""
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def with_retries(
    session: Session,
    work: Callable[[], T],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    on_retry: Callable[[int], None] | None = None,
) -> T:
    """Run `work` in a savepoint; if the database aborts it as a deadlock victim or a
    serialization failure, roll back to the savepoint (releasing its locks), wait a
    jittered, doubling moment and run it again, at most `attempts` times in all. Other
    errors, and the last retryable one, propagate."""
    for attempt in range(1, attempts + 1):
        savepoint = session.begin_nested()
        try:
            result = work()
        except DBAPIError as exc:
            savepoint.rollback()
            if not is_retryable(exc) or attempt == attempts:
                raise
            if on_retry is not None:
                on_retry(attempt)
            time.sleep(random.uniform(0, _BASE_DELAY * 2**attempt))
            continue
        except BaseException:
            savepoint.rollback()
            raise
        savepoint.commit()
        return result
    raise AssertionError("unreachable")  # pragma: no cover
