"""Builds the FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy import Engine, text

from registry.batches.router import router as batches_router
from registry.brands.router import router as brands_router
from registry.core.db import ServiceUnavailable, get_engine
from registry.core.errors import install_error_handlers
from registry.labels.router import router as labels_router
from registry.orgs.router import router as orgs_router
from registry.verify.router import router as verify_router
from registry.verify.scans import ScanRecorder


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Consumer scans are buffered in-process and written by a background thread; what is
    still buffered at shutdown is written before the process exits."""
    recorder = ScanRecorder(app.state.engine)
    app.state.scan_recorder = recorder
    recorder.start()
    try:
        yield
    finally:
        await to_thread.run_sync(recorder.stop)


def create_app(engine: Engine | None = None) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="Origin Registry",
        version="0.1.0",
        description="Traceability and brand registry for distinctive county brands.",
    )
    app.state.engine = engine or get_engine()
    install_error_handlers(app)
    for router in (orgs_router, brands_router, batches_router, labels_router, verify_router):
        app.include_router(router)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process is up; does no I/O."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> dict[str, str]:
        """The database answers."""
        try:
            with app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable(f"database unreachable: {type(exc).__name__}") from exc
        return {"status": "ready", "database": "ok"}

    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory` and `registry serve` (engine from settings)."""
    return create_app()
