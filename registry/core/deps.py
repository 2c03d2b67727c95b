"""The request-scoped session as a FastAPI dependency (kept out of `db` so the CLI and
workers open sessions without importing FastAPI)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from registry.core.db import unit_of_work


def get_session(request: Request) -> Iterator[Session]:
    """Request-scoped session; the transaction commits before the response is sent."""
    engine = getattr(request.app.state, "engine", None)
    with unit_of_work(engine, write=request.method not in ("GET", "HEAD", "OPTIONS")) as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
