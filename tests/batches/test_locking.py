"""Retries of deadlock victims on a real PostgreSQL: two transactions that lock the same two
batches in opposite orders both finish, one of them after a retry from its savepoint."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from registry.batches.locking import lock_batches, with_retries
from registry.batches.models import Batch
from tests.batches.test_concurrency import _run_together
from tests.factories import World


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_deadlock_victim_is_retried_and_both_finish(world: World, engine: Engine) -> None:
    a, b = world.new_batch()["id"], world.new_batch()["id"]
    both_hold_one = threading.Barrier(2, timeout=30)
    retries: list[int] = []

    def writer(first: str, second: str, note: str) -> str:
        attempts = 0

        def work() -> str:
            nonlocal attempts
            attempts += 1
            lock_batches(session, [first])  # one at a time, against the global order
            if attempts == 1:
                both_hold_one.wait()
            (batch,) = lock_batches(session, [second]).values()
            batch.product = note
            session.add(batch)
            session.flush()
            return note

        with Session(engine) as session, session.begin():
            return with_retries(session, work, on_retry=retries.append)

    done = _run_together([lambda: writer(a, b, "ab"), lambda: writer(b, a, "ba")])
    assert sorted(done) == ["ab", "ba"]
    assert retries == [1]  # exactly one victim, retried once
    with Session(engine) as session:
        products = [session.get(Batch, x).product for x in (a, b)]  # type: ignore[union-attr]
    assert products == ["ba", "ab"]  # each writer's change to its second batch landed
