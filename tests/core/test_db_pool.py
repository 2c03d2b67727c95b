"""PostgreSQL connections that die in the pool: replaced after idling, or one 503 and then
reconnected, without a ping round trip on every checkout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, text

from registry.core import db
from registry.core.db import ServiceUnavailable, make_engine, unit_of_work
from tests.conftest import POSTGRES_URL


@pytest.fixture
def pg(postgres_engine: Engine) -> Iterator[Engine]:
    """An engine of its own (a pool whose connections the test may kill)."""
    engine = make_engine(POSTGRES_URL)
    yield engine
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with unit_of_work(engine) as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(admin: Engine, pid: int) -> None:
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(*args: object) -> None:
        seen.append(str(args[2]))

    return seen


def test_a_busy_pool_checks_out_without_a_ping(pg: Engine) -> None:
    _backend_pid(pg)
    seen = _statements(pg)
    _backend_pid(pg)
    assert seen == ["SELECT pg_backend_pid()"]


def test_a_connection_killed_while_idle_is_replaced_before_use(
    pg: Engine, postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _backend_pid(pg)
    _kill(postgres_engine, dead)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # it has idled long enough
    assert _backend_pid(pg) != dead


def test_a_connection_killed_under_load_fails_one_request_then_the_pool_reconnects(
    pg: Engine, postgres_engine: Engine
) -> None:
    dead = _backend_pid(pg)
    _kill(postgres_engine, dead)
    with pytest.raises(ServiceUnavailable, match="retry"):
        _backend_pid(pg)
    assert _backend_pid(pg) != dead
