"""Builds the FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy import Engine, text
from starlette.middleware import Middleware

from registry.audit.refusals import install_refusal_alerts
from registry.audit.router import router as audit_router
from registry.batches.router import router as batches_router
from registry.brands.router import router as brands_router
from registry.codes.digital_link import MAX_URL_LENGTH
from registry.console.setup import install as install_console
from registry.core.bounds import BodyLimit
from registry.core.config import get_settings
from registry.core.db import ServiceUnavailable, get_engine, unit_of_work, wal_checkpoints
from registry.core.error_handlers import install_error_handlers
from registry.core.guard import install_request_guard
from registry.core.heap import freeze_start_up_heap
from registry.core.lanes import WriteLane
from registry.core.metrics import router as metrics_router
from registry.core.openapi import install_openapi
from registry.core.queue import task_queue_for
from registry.core.ratelimit import RateLimits
from registry.jobs.router import router as jobs_router
from registry.labels.router import router as labels_router
from registry.log.append import STATS as LOG_STATS
from registry.log.publisher import checkpoint_thread
from registry.log.router import router as log_router
from registry.orgs.models import OrgKind
from registry.orgs.router import router as orgs_router
from registry.orgs.service import key_kind
from registry.scans.counter import RedisDeviceCounter, device_counter_for
from registry.scans.metrics import ScanMetrics
from registry.scans.stream import redis_client, scan_recorder_for
from registry.verify import invalidation  # noqa: F401  (commits reach verification caches)
from registry.verify.cache import VerifyCache
from registry.verify.router import router as verify_router
from registry.verify.schemas import MAX_BULK_CODES
from registry.verify.service import Verifier
from registry.web.docs import install_offline_docs
from registry.web.front import router as front_router
from registry.web.router import router as web_router
from registry.web.scan import LabelScans, ScanClients
from registry.web.scan import router as scan_router


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Consumer scans go to the Redis stream when Redis is configured, else to an in-process
    buffer written by a background thread; what is still buffered at shutdown is pushed or
    written before the process exits. Tasks go to Celery workers, or run in-process."""
    settings = get_settings()
    recorder = scan_recorder_for(settings, app.state.engine) if settings.record_scans else None
    app.state.scan_recorder = recorder
    app.state.task_queue = task_queue_for(settings, app.state.engine)
    app.state.metric_sources = [ScanMetrics(recorder)] if recorder else []
    app.state.metric_sources.append(LOG_STATS)
    counter = device_counter_for(settings, app.state.engine)
    app.state.verifier = Verifier.from_settings(
        settings,
        cache=VerifyCache.from_settings(app.state.engine, settings),
        counter=counter,
        recorder=recorder,
    )
    app.state.metric_sources.append(app.state.verifier)
    app.state.scan_clients = ScanClients.from_settings(settings)
    if recorder is not None:
        recorder.start()
    publisher = None
    if settings.log_enabled and settings.publish_checkpoints and not settings.redis_url:
        publisher = checkpoint_thread(app.state.engine, settings)
        publisher.start()
    wal = wal_checkpoints(app.state.engine)
    if wal is not None:
        wal.start()
    if getattr(app.state, "serving", False):
        # Modules, routes, models and settings live as long as the process (core/heap.py).
        freeze_start_up_heap()
    try:
        yield
    finally:
        if publisher is not None:
            await to_thread.run_sync(publisher.stop)
        if recorder is not None:
            await to_thread.run_sync(recorder.stop)
        if wal is not None:
            await to_thread.run_sync(wal.stop)
        if isinstance(counter, RedisDeviceCounter):
            await counter.aclose()
        await to_thread.run_sync(app.state.task_queue.close)
        await app.state.rate_limits.aclose()


def create_app(engine: Engine | None = None) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="Origin Registry",
        version="0.1.0",
        description="Traceability and brand registry for distinctive county brands.",
        docs_url=None,  # served by install_offline_docs, with no CDN
        redoc_url=None,
        # The registry's own metrics are /metrics; FastAPI's OpenTelemetry would otherwise
        # ask the tracer, meter and logger providers on every request whether any is set.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.engine = engine or get_engine()
    install_error_handlers(app)
    install_refusal_alerts(app)
    # The label URL first: routes are matched in order, and it is the busiest by far.
    for router in (
        scan_router,
        orgs_router,
        brands_router,
        batches_router,
        web_router,
        labels_router,
        verify_router,
        jobs_router,
        audit_router,
        metrics_router,
        front_router,
        log_router,
    ):
        app.include_router(router)
    install_offline_docs(app)
    install_console(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is up; does no I/O (async: answered on the event loop, never queued
        behind the thread pool)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "not ready"}})
    def readyz() -> dict[str, str]:
        """The database answers, and Redis too when one is configured."""
        try:
            with app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable(f"database unreachable: {type(exc).__name__}") from exc
        answer = {"status": "ready", "database": "ok"}
        url = get_settings().redis_url
        if url:
            client = redis_client(url)
            try:
                client.ping()
            except Exception as exc:
                raise ServiceUnavailable(f"redis unreachable: {type(exc).__name__}") from exc
            finally:
                client.close()
            answer["redis"] = "ok"
        return answer

    settings = get_settings()

    def api_key_kind(token: str) -> str | None:
        with unit_of_work(app.state.engine) as session:
            return key_kind(session, token)

    routes = install_request_guard(
        app,
        settings=settings,
        limits=RateLimits(
            settings, key_kind=api_key_kind, privileged_kinds=frozenset({OrgKind.platform})
        ),
        # Bulk verify: its 1,000 codes of at most a URL's length each (a code that is not a
        # URL may hold a few values; it is answered `invalid`); sync: its items, whole events.
        body_limits={
            ("POST", "/v1/verify"): BodyLimit(
                MAX_BULK_CODES * (MAX_URL_LENGTH + 8) + 1024, MAX_BULK_CODES * 16
            ),
            ("POST", "/v1/sync"): BodyLimit(
                4 * settings.max_body_bytes, 5 * settings.max_json_values
            ),
        },
    )
    # Innermost, after the guard's limits and body checks (which use this loop's clients).
    app.user_middleware.append(
        Middleware(WriteLane, routes=routes, concurrent_reads=settings.concurrent_reads)
    )
    app.user_middleware.append(Middleware(LabelScans))  # the label URL, in its read turn
    install_openapi(app, routes)
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory` and `registry serve` (engine from settings): an
    app that serves until its process exits (tests make many apps in one process)."""
    app = create_app()
    app.state.serving = True
    return app
