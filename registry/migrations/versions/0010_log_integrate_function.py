"""log integration as a PostgreSQL function: one round trip, the log_state lock held only
while the database works (registry/log/store.py, `integrate`, is the same rule in Python)

Revision ID: 0010_log_integrate_function
Revises: 0009_unsent_jobs
Create Date: 2026-11-30 21:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_log_integrate_function"
down_revision: str | None = "0009_unsent_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# log_integrate(max_leaves, wait): lock the log_state row (wait=false: only if no one holds
# it; otherwise return no rows and let this transaction commit without waiting for its WAL
# flush, since the sequencer's durable commit that integrates its events covers it), give
# the queued events visible to this transaction the next leaf indexes in event-id order,
# write their leaves and the complete subtrees they finish, unqueue them and move the size
# and root. Returns (event_id, batch_id, seq, leaf_index) for each leaf it added. RFC 6962 hashing:
# leaf = SHA-256(0x00 || chain hash), node = SHA-256(0x01 || left || right).
_FUNCTION = r"""
CREATE FUNCTION log_integrate(max_leaves integer, wait boolean)
RETURNS TABLE (event_id bigint, batch_id varchar, seq integer, leaf_index bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n bigint;
    lvl integer;
    h bytea;
    carry bytea;
    k integer;
    edge_levels integer[] := '{}';
    edge_hashes bytea[] := '{}';
    leaf_ids bigint[] := '{}';
    leaf_batches varchar[] := '{}';
    leaf_seqs integer[] := '{}';
    leaf_data bytea[] := '{}';
    node_levels smallint[] := '{}';
    node_indexes bigint[] := '{}';
    node_hashes bytea[] := '{}';
    queued record;
BEGIN
    IF wait THEN
        SELECT s.size INTO n FROM log_state s WHERE s.id = 1 FOR UPDATE;
    ELSE
        SELECT s.size INTO n FROM log_state s WHERE s.id = 1 FOR UPDATE SKIP LOCKED;
    END IF;
    IF n IS NULL THEN
        IF NOT wait AND EXISTS (SELECT 1 FROM log_state s WHERE s.id = 1) THEN
            PERFORM set_config('synchronous_commit', 'off', true);
            RETURN;  -- another transaction is integrating
        END IF;
        INSERT INTO log_state (id, size, root, updated_at)
        VALUES (1, 0, sha256(''::bytea), clock_timestamp()) ON CONFLICT DO NOTHING;
        SELECT s.size INTO n FROM log_state s WHERE s.id = 1 FOR UPDATE;
    END IF;
    -- The right edge: the complete subtrees of a tree of n leaves, largest first.
    FOR lvl IN REVERSE 62..0 LOOP
        CONTINUE WHEN (n >> lvl) & 1 = 0;
        IF lvl = 0 THEN
            SELECT sha256('\x00'::bytea || l.data) INTO h
            FROM log_leaves l WHERE l.leaf_index = n - 1;
        ELSE
            SELECT d.hash INTO h
            FROM log_nodes d WHERE d.level = lvl AND d.node_index = (n >> lvl) - 1;
        END IF;
        IF h IS NULL THEN
            RAISE EXCEPTION 'the stored tree lacks subtree (%, %)', lvl, (n >> lvl) - 1;
        END IF;
        edge_levels := edge_levels || lvl;
        edge_hashes := edge_hashes || h;
        h := NULL;
    END LOOP;
    FOR queued IN
        SELECT p.event_id AS id, e.batch_id, e.seq, decode(e.hash, 'hex') AS data
        FROM log_pending p JOIN events e ON e.id = p.event_id
        ORDER BY p.event_id LIMIT max_leaves
    LOOP
        carry := sha256('\x00'::bytea || queued.data);
        lvl := 0;
        k := coalesce(array_length(edge_levels, 1), 0);
        WHILE k > 0 AND edge_levels[k] = lvl LOOP
            carry := sha256('\x01'::bytea || edge_hashes[k] || carry);
            lvl := lvl + 1;
            node_levels := node_levels || lvl::smallint;
            node_indexes := node_indexes || (n >> lvl);
            node_hashes := node_hashes || carry;
            edge_levels := edge_levels[1:k - 1];
            edge_hashes := edge_hashes[1:k - 1];
            k := k - 1;
        END LOOP;
        edge_levels := edge_levels || lvl;
        edge_hashes := edge_hashes || carry;
        leaf_ids := leaf_ids || queued.id;
        leaf_batches := leaf_batches || queued.batch_id;
        leaf_seqs := leaf_seqs || queued.seq;
        leaf_data := leaf_data || queued.data;
        event_id := queued.id;
        batch_id := queued.batch_id;
        seq := queued.seq;
        leaf_index := n;
        RETURN NEXT;
        n := n + 1;
    END LOOP;
    IF cardinality(leaf_ids) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO log_leaves (leaf_index, batch_id, seq, data)
    SELECT n - cardinality(leaf_ids) + o - 1, b, s, d
    FROM unnest(leaf_batches, leaf_seqs, leaf_data) WITH ORDINALITY AS u(b, s, d, o);
    IF cardinality(node_hashes) > 0 THEN
        INSERT INTO log_nodes (level, node_index, hash)
        SELECT * FROM unnest(node_levels, node_indexes, node_hashes);
    END IF;
    DELETE FROM log_pending p WHERE p.event_id = ANY (leaf_ids);
    -- The root: the edge folded right to left.
    k := array_length(edge_hashes, 1);
    carry := edge_hashes[k];
    FOR i IN REVERSE k - 1..1 LOOP
        carry := sha256('\x01'::bytea || edge_hashes[i] || carry);
    END LOOP;
    UPDATE log_state s SET size = n, root = carry, updated_at = clock_timestamp()
    WHERE s.id = 1;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION log_integrate(integer, boolean)")
