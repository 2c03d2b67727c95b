"""Answers that show events with their leaf index, which exists only once the write's
transaction has committed and the log has integrated the events (write routes answer after
their unit of work: registry/core/auth.py, `WriteCaller.unit`)."""

from __future__ import annotations

from typing import Any

import pydantic_core
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.responses import Response

from registry.batches.schemas import EventPublic
from registry.log.append import LEAF_INDEXES, leaf_indexes


def with_leaf_indexes(
    session: Session, answer: Any, events: list[EventPublic], *, status_code: int
) -> Response:
    """`answer` with each of `events` (inside it) given its leaf index. `session` is the
    write's, committed: its after-commit work integrated the events and left the indexes
    it placed; others (replayed events) are read."""
    placed = session.info.get(LEAF_INDEXES, {})
    for e in events:
        if e.leaf_index is None:
            e.leaf_index = placed.get((e.batch_id, e.seq))
    missing = [e for e in events if e.leaf_index is None]
    bind = session.get_bind()
    if missing and isinstance(bind, Engine):
        with Session(bind) as reader:
            found = leaf_indexes(reader, [(e.batch_id, e.seq) for e in missing])
        for e in missing:
            e.leaf_index = found.get((e.batch_id, e.seq))
    return Response(pydantic_core.to_json(answer), status_code, media_type="application/json")
