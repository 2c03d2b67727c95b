"""Answers that show events with their leaf index, which exists only once the request's
transaction has committed and the log has integrated the events.

FastAPI serializes a route's return value before the session dependency commits, so a
write route returns an `AfterCommitJSON` instead: it renders when it is sent, after the
commit and after the after-commit work (integration, which hands over the leaf indexes it
placed, then filling in any others, e.g. of replayed events).
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from registry.batches.schemas import EventPublic
from registry.core.db import after_commit
from registry.log.append import LEAF_INDEXES, leaf_indexes


class AfterCommitJSON(Response):
    media_type = "application/json"

    def __init__(self, content: Any, status_code: int) -> None:
        super().__init__(content=b"", status_code=status_code)
        self._answer = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.body = pydantic_core.to_json(self._answer)
        self.headers["content-length"] = str(len(self.body))
        await super().__call__(scope, receive, send)


def with_leaf_indexes(
    session: Session, answer: Any, events: list[EventPublic], *, status_code: int
) -> Response:
    """`answer` with each of `events` (inside it) given its leaf index. `session` is the
    write's: committed by now (its after-commit work integrated the events), or still open,
    when the answer is sent after its commit."""
    bind = session.get_bind()

    def fill() -> None:
        placed = session.info.get(LEAF_INDEXES, {})
        for e in events:
            if e.leaf_index is None:
                e.leaf_index = placed.get((e.batch_id, e.seq))
        missing = [e for e in events if e.leaf_index is None]
        if not missing or not isinstance(bind, Engine):
            return
        with Session(bind) as reader:
            found = leaf_indexes(reader, [(e.batch_id, e.seq) for e in missing])
        for e in missing:
            e.leaf_index = found.get((e.batch_id, e.seq))

    if session.in_transaction():
        after_commit(session, fill)
        return AfterCommitJSON(answer, status_code)
    fill()
    return Response(pydantic_core.to_json(answer), status_code, media_type="application/json")


def fill_batch_leaf_indexes(index_by_seq: dict[int, int], events: list[EventPublic]) -> None:
    for e in events:
        e.leaf_index = index_by_seq.get(e.seq)
