"""Proofs for batch heads as the verification loader asks for them: many batches at once."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from registry.core.db import unit_of_work
from registry.log.proofs import batch_head_proofs
from tests.dbtools import rows_read
from tests.factories import World, stored


def test_head_proofs_read_the_heads_leaves_however_many_leaves_the_log_holds(
    world: World,
) -> None:
    """On PostgreSQL, the leaves of many batch heads (a bulk verify of codes from many lots,
    each scan that misses the verification cache) are looked up by (batch_id, seq) on the
    unique index. Looked up by batch id, they were every leaf of those batches, and a list
    of a few dozen ids was planned as a walk of the whole log without statistics (206,945
    leaves read for 2,745 at 210,000 leaves). Rows and index entries read are counted in
    the transaction's own statistics."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("the plan in question is PostgreSQL's")
    batches = [world.new_batch()["id"] for _ in range(40)]
    for batch_id in batches:
        world.ok(batch_id, world.coop, stored())
    with world.engine.begin() as conn:
        # Leaves of other batches: only their number matters here.
        conn.execute(
            text(
                "INSERT INTO log_leaves (leaf_index, batch_id, seq, data)"
                " SELECT 1000000 + i, 'other', i, '\\x00' FROM generate_series(1, 4000) AS i"
            )
        )
    with unit_of_work(world.engine) as session:
        start = rows_read(session, "log_leaves")
        proofs = batch_head_proofs(session, [(batch_id, 1) for batch_id in batches])
        read = rows_read(session, "log_leaves") - start
    assert all(proofs[batch_id].leaf_index is not None for batch_id in batches)
    # Each head's index entry and leaf (4,080 before), and the odd leaf an inclusion proof
    # is made of.
    assert 2 * len(batches) <= read <= 2 * len(batches) + 4, read
