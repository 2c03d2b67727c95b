"""Consumer scans through a Redis stream: the API appends, Celery workers drain.

Request side (`StreamScanRecorder`): `record` only appends to a bounded in-process outbox
(a `ScanBuffer`, registry/scans/records.py); a background thread pipelines the outbox into
the stream (`XADD ... MAXLEN ~`), so a verification never waits on Redis. When Redis is
unreachable the thread hands the scans to the in-process buffer (`ScanRecorder`, which
writes them to the database itself) and tries Redis again a few seconds later; what cannot
be kept anywhere is counted as dropped.

Worker side (`drain_scan_stream`): a consumer group reads entries in batches, writes each
batch in one transaction (registry/scans/ingest.py) and only then acknowledges and deletes
them. Entries a dead worker read but never acknowledged are claimed after `claim_idle_ms`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
from sqlalchemy import Engine

from registry.core.config import Settings
from registry.core.db import unit_of_work
from registry.core.metrics import Sample
from registry.core.time import as_utc
from registry.scans.ingest import ingest_scans, prune_stream_ids
from registry.scans.records import ScanBuffer, ScanRecord, ScanRecorder
from registry.scans.rules import CloneSignal

log = logging.getLogger(__name__)

GROUP = "registry-ingest"
OUTBOX_CAPACITY = 50_000
PUSH_BATCH = 1000
PUSH_INTERVAL = 0.05  # seconds the pusher waits for more scans before pushing
REDIS_RETRY_AFTER = 5.0  # seconds scans go to the in-process buffer after a Redis failure
REDIS_TIMEOUT = 2.0  # seconds


def redis_client(url: str) -> redis.Redis:
    """A client that gives up quickly: a dead Redis must not stall a thread for long."""
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
        health_check_interval=30,
    )


def _opt(value: float | str | None) -> str:
    return "" if value is None else str(value)


def encode(scan: ScanRecord) -> dict[str, str]:
    return {
        "g": scan.gtin,
        "l": scan.lot,
        "s": scan.serial,
        "t": as_utc(scan.scanned_at).isoformat(),
        "la": _opt(scan.lat),
        "lo": _opt(scan.lon),
        "r": _opt(scan.region),
        "h": _opt(scan.device),
        "b": _opt(scan.batch_id),
        "br": _opt(scan.brand_id),
        "sg": orjson.dumps([[s.kind, s.message, s.detail] for s in scan.signals]).decode()
        if scan.signals
        else "",
    }


def decode(fields: dict[bytes, bytes]) -> ScanRecord:
    """The scan of a stream entry; raises KeyError or ValueError for a malformed one."""
    f = {k.decode(): v.decode() for k, v in fields.items()}
    at = datetime.fromisoformat(f["t"])
    return ScanRecord(
        gtin=f["g"],
        lot=f["l"],
        serial=f["s"],
        scanned_at=at if at.tzinfo else at.replace(tzinfo=UTC),
        lat=float(f["la"]) if f.get("la") else None,
        lon=float(f["lo"]) if f.get("lo") else None,
        region=f.get("r") or None,
        device=f.get("h") or None,
        batch_id=f.get("b") or None,
        brand_id=f.get("br") or None,
        signals=tuple(
            CloneSignal(kind, message, detail) for kind, message, detail in orjson.loads(f["sg"])
        )
        if f.get("sg")
        else (),
    )


class StreamScanRecorder(ScanBuffer):
    """Scans to the Redis stream, with the in-process buffer as the fallback."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        stream: str,
        maxlen: int,
        fallback: ScanRecorder,
        capacity: int = OUTBOX_CAPACITY,
        retry_after: float = REDIS_RETRY_AFTER,
    ) -> None:
        super().__init__(
            capacity=capacity, interval=PUSH_INTERVAL, max_batch=PUSH_BATCH, name="scan-stream"
        )
        self._client = client
        self._stream = stream
        self._maxlen = maxlen
        self.fallback = fallback
        self._retry_after = retry_after
        self._redis_down_until = 0.0
        self.streamed = 0
        self.diverted = 0  # handed to the in-process buffer
        self.dropped = 0  # lost: outbox and in-process buffer both full
        self.push_failures = 0

    @property
    def redis_up(self) -> bool:
        return time.monotonic() >= self._redis_down_until

    def start(self) -> None:
        self.fallback.start()
        super().start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the pusher, push (or divert) what is left, then stop the fallback."""
        super().stop(timeout)
        self.fallback.stop(timeout)

    def _deliver(self, batch: list[ScanRecord]) -> None:
        """Push the batch to Redis in one pipeline, or divert it while Redis is down."""
        try:
            if not self.redis_up:
                raise redis.ConnectionError("Redis marked down; retrying later")
            pipe = self._client.pipeline(transaction=False)
            for scan in batch:
                pipe.xadd(self._stream, encode(scan), maxlen=self._maxlen, approximate=True)  # type: ignore[arg-type]
            pipe.execute()
            self.streamed += len(batch)
        except redis.RedisError as exc:
            if self.redis_up:
                log.warning("scan stream unreachable (%s); buffering in-process", exc)
                self.push_failures += 1
                self._redis_down_until = time.monotonic() + self._retry_after
            self._spill(batch)

    def _spill(self, scans: list[ScanRecord]) -> int:
        """Hand scans to the in-process buffer (outbox full, or Redis down)."""
        kept = sum(1 for scan in scans if self.fallback.record(scan))
        with self._lock:
            self.diverted += kept
            self.dropped += len(scans) - kept
        return kept

    def metrics(self) -> list[Sample]:
        return [
            Sample(
                "scans_streamed_total",
                "counter",
                "Scans appended to the Redis stream.",
                self.streamed,
            ),
            Sample(
                "scans_diverted_total",
                "counter",
                "Scans kept in the in-process buffer because Redis was unreachable.",
                self.diverted,
            ),
            Sample(
                "scan_stream_failures_total",
                "counter",
                "Times appending to the Redis stream failed.",
                self.push_failures,
            ),
            Sample(
                "scan_outbox_size", "gauge", "Scans waiting to be appended to Redis.", self.buffered
            ),
            Sample(
                "scan_stream_up",
                "gauge",
                "1 while Redis takes scans, 0 while it is skipped.",
                int(self.redis_up),
            ),
        ]


def scan_recorder_for(settings: Settings, engine: Engine) -> StreamScanRecorder | ScanRecorder:
    """The Redis stream recorder when Redis is configured, else the in-process buffer."""
    buffer = ScanRecorder(engine)
    if not settings.redis_url:
        return buffer
    return StreamScanRecorder(
        redis_client(settings.redis_url),
        stream=settings.scan_stream,
        maxlen=settings.scan_stream_maxlen,
        fallback=buffer,
    )


# --- worker side ---------------------------------------------------------------------------


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def ensure_group(client: redis.Redis, stream: str) -> None:
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def drain_scan_stream(
    engine: Engine,
    client: redis.Redis,
    *,
    stream: str,
    batch_size: int,
    max_seconds: float = 5.0,
    claim_idle_ms: int = 60_000,
) -> int:
    """Write stream entries to the database until the stream is empty or `max_seconds`
    pass; returns the number of scans written (duplicates of earlier deliveries excluded)."""
    ensure_group(client, stream)
    with unit_of_work(engine, write=True) as session:
        prune_stream_ids(session)
    consumer = consumer_name()
    written = 0
    start = "0-0"
    while True:  # first the entries a dead consumer left unacknowledged
        reply: Any = client.xautoclaim(
            stream, GROUP, consumer, min_idle_time=claim_idle_ms, start_id=start, count=batch_size
        )
        start, claimed = reply[0], reply[1]
        written += _ingest(engine, client, stream, claimed)
        if start in (b"0-0", "0-0") or not claimed:
            break
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        entries_reply: Any = client.xreadgroup(GROUP, consumer, {stream: ">"}, count=batch_size)
        entries = entries_reply[0][1] if entries_reply else []
        if not entries:
            break
        written += _ingest(engine, client, stream, entries)
    return written


def _ingest(
    engine: Engine,
    client: redis.Redis,
    stream: str,
    entries: Sequence[tuple[bytes, dict[bytes, bytes]]],
) -> int:
    scans: list[ScanRecord] = []
    ids: list[str] = []
    for entry_id, fields in entries:
        if not fields:  # deleted while pending
            continue
        try:
            scans.append(decode(fields))
        except (KeyError, ValueError):
            log.error("malformed scan stream entry %r: %r", entry_id, fields)
            continue
        ids.append(entry_id.decode())
    written = 0
    if scans:
        with unit_of_work(engine, write=True) as session:
            written = ingest_scans(session, scans, stream_ids=ids).written
    all_ids = [entry_id for entry_id, _ in entries]
    if all_ids:
        pipe = client.pipeline(transaction=True)
        pipe.xack(stream, GROUP, *all_ids)
        pipe.xdel(stream, *all_ids)
        pipe.execute()
    return written
