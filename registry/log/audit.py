"""The log audited against itself: leaves contiguous, every stored subtree hash and the
stored root recomputed from the leaves, every checkpoint's root found again, and no leaf
whose event is gone. Catches a log whose tables were edited without rebuilding all of it;
a complete rebuild with a freshly signed checkpoint needs a witness (registry/log/witness.py).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.log import merkle
from registry.log.models import LogCheckpoint, LogLeaf, LogNode, LogState


def audit_log(session: Session, *, chunk: int = 20_000) -> list[str]:
    """One line per problem found in the log's tables; empty means consistent."""
    problems: list[str] = []
    tree = merkle.MemoryTree()
    for index, data in session.exec(
        select(LogLeaf.leaf_index, LogLeaf.data)
        .order_by(col(LogLeaf.leaf_index))
        .execution_options(yield_per=chunk)
    ):
        if index != tree.size:
            problems.append(f"log: leaf {tree.size} is missing (next stored leaf is {index})")
            return problems
        tree.append(bytes(data))
    state = session.get(LogState, 1)
    size = 0 if state is None else state.size
    if size != tree.size:
        problems.append(f"log: state says {size} leaves, the table holds {tree.size}")
    elif state is not None and bytes(state.root) != tree.root():
        problems.append(f"log: stored root {bytes(state.root).hex()} is not the leaves' root")
    for level, node_index, digest in session.exec(
        select(LogNode.level, LogNode.node_index, LogNode.hash).execution_options(yield_per=chunk)
    ):
        if ((node_index + 1) << level) > tree.size:
            problems.append(f"log: subtree ({level}, {node_index}) lies beyond the leaves")
        elif tree.node(level, node_index) != bytes(digest):
            problems.append(f"log: subtree ({level}, {node_index}) does not hash its leaves")
    for cp_id, cp_size, cp_root in session.exec(
        select(LogCheckpoint.id, LogCheckpoint.size, LogCheckpoint.root)
    ):
        if cp_size > tree.size:
            problems.append(f"log: checkpoint {cp_id} has {cp_size} leaves, the log {tree.size}")
        elif tree.root(cp_size) != bytes(cp_root):
            problems.append(
                f"log: checkpoint {cp_id} (size {cp_size}) root is not the leaves' root"
            )
    return problems
