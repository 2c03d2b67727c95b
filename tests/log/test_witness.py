"""The attack of issue 9, both ways, against a real uvicorn server.

Someone with the database rewrites a batch's history (triggers bypassed, an event edited,
every later hash recomputed, the head moved). Left alone, the log's tables remember the old
hashes and the local audit catches it. If they also rebuild the whole log and sign a fresh
checkpoint with the registry's own log key, every local check passes; only a witness that
saw a checkpoint before the rewrite can tell, and it does, with one line per problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text, update

from registry.batches.chain import event_body, link_hash
from registry.core.config import get_settings
from registry.log.publisher import publish_now
from registry.models import metadata
from tests.dbtools import database_url, event_rows, run_cli, triggers_bypassed
from tests.factories import World, harvested, packed, shipped, stored
from tests.web.conftest import live_server  # noqa: F401  (the real server fixture)

EVENTS = metadata.tables["events"]
BATCHES = metadata.tables["batches"]


def _history(world: World) -> str:
    batch = str(world.new_batch()["id"])
    world.ok(batch, world.coop, harvested(5000))
    world.ok(batch, world.coop, packed(1000, 5))
    world.ok(batch, world.coop, shipped(world.handler.id, 10))
    other = str(world.new_batch(world.coop2)["id"])
    world.ok(other, world.coop2, stored())
    return batch


def _rewrite(conn: Connection, batch: str, rows: list[dict[str, Any]]) -> None:
    """Raise the harvest to 9000 kg and recompute every later link and the head."""
    prev = rows[0]["hash"]
    for row in rows[1:]:
        data = {**row["data"], "quantity": 9000} if row["seq"] == 1 else row["data"]
        body = event_body(
            batch_id=batch,
            seq=row["seq"],
            type=row["type"],
            event_time=row["event_time"],
            event_time_offset=row["event_time_offset"],
            recorded_at=row["recorded_at"],
            actor_org_id=row["actor_org_id"],
            location=row["location"],
            data=data,
        )
        new = link_hash(prev, body)
        where = (EVENTS.c.batch_id == batch) & (EVENTS.c.seq == row["seq"])
        conn.execute(update(EVENTS).where(where).values(data=data, prev_hash=prev, hash=new))
        prev = new
    conn.execute(update(BATCHES).where(BATCHES.c.id == batch).values(head_hash=prev))


def _rebuild_log(conn: Connection) -> None:
    """Throw the log away and let the registry's own sequencer rebuild it from the events."""
    for table in ("log_leaves", "log_nodes", "log_checkpoints", "log_pending"):
        conn.execute(text(f"DELETE FROM {table}"))
    conn.execute(text("DELETE FROM log_state"))
    conn.execute(text("INSERT INTO log_pending (event_id) SELECT id FROM events"))


def _witness(base: str, vkey: str, state: Path, *extra: str) -> Any:
    return run_cli(
        "sqlite:///unused-by-the-witness.db",
        "audit",
        "--remote",
        base,
        "--log-key",
        vkey,
        "--state",
        str(state),
        *extra,
    )


def test_rewrite_leaving_the_log_alone_is_caught_locally(world: World) -> None:
    batch = _history(world)
    url = database_url(world.engine)
    assert run_cli(url, "audit", "--all").exit_code == 0
    with triggers_bypassed(world.engine) as conn:
        _rewrite(conn, batch, event_rows(world.engine, batch))
    result = run_cli(url, "audit", "--all")
    assert result.exit_code == 1, result.output
    assert f"BROKEN batch {batch} first bad seq 1: hash" in result.output
    assert (
        "differs from its log leaf"
        in world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).text
    )


def test_rewrite_with_a_rebuilt_log_passes_locally_but_not_the_witness(
    world: World,
    live_server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    batch = _history(world)
    settings = get_settings()
    publish_now(world.engine, settings)
    vkey = world.call("GET", "/v1/log/key").text.strip()
    state = tmp_path / "witness.json"
    seen = _witness(live_server, vkey, state, "--api-key", world.regulator.key)
    assert seen.exit_code == 0, seen.output
    assert "spot-checked" in seen.output

    # The registry grows honestly; the witness follows.
    world.ok(batch, world.coop, stored())
    publish_now(world.engine, settings)
    again = _witness(live_server, vkey, state)
    assert again.exit_code == 0, again.output

    with triggers_bypassed(world.engine) as conn:
        _rewrite(conn, batch, event_rows(world.engine, batch))
        _rebuild_log(conn)
    publish_now(world.engine, settings)  # signed with the registry's own log key
    url = database_url(world.engine)
    local = run_cli(url, "audit", "--all")
    assert local.exit_code == 0, local.output
    assert world.call("GET", f"/v1/batches/{batch}/audit", world.regulator).json()["intact"]

    caught = _witness(live_server, vkey, state)
    assert caught.exit_code == 1, caught.output
    lines = caught.output.strip().splitlines()
    assert lines
    assert all(line.startswith("PROBLEM ") for line in lines)
    assert "history was rewritten" in caught.output
    # A fresh witness with no memory cannot tell: that is why the state file matters.
    assert _witness(live_server, vkey, tmp_path / "new.json").exit_code == 0


def test_witness_refuses_a_checkpoint_signed_by_another_key(
    world: World,
    live_server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    _history(world)
    publish_now(world.engine, get_settings())
    other = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    result = _witness(live_server, other, tmp_path / "w.json")
    assert result.exit_code == 1
    assert "PROBLEM checkpoint: no signature from a known key" in result.output
    assert not (tmp_path / "w.json").exists()


def test_witness_samples_by_inclusion_proofs(
    world: World,
    live_server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    _history(world)
    publish_now(world.engine, get_settings())
    vkey = world.call("GET", "/v1/log/key").text.strip()
    result = _witness(
        live_server, vkey, tmp_path / "w.json", "--sample", "3", "--api-key", world.regulator.key
    )
    assert result.exit_code == 0, result.output
    assert "spot-checked 3 entries" in result.output
