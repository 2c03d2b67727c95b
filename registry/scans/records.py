"""Durable scan records, written off the request path: `ScanRecorder`, an in-process bounded
buffer that a background thread flushes into `scans`, `scan_counters` and the alerts the
scans' verdicts raised (registry/scans/ingest.py), one transaction per flush. Its queue and
thread are `ScanBuffer`'s, which the Redis stream recorder (registry/scans/stream.py)
shares.

`record` never blocks on the database: when the buffer is full the scan is dropped and
counted in `dropped`. Verdicts do not read these records: they read the device counters
(registry/scans/counter.py), taken before each answer.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine

from registry.core.db import unit_of_work
from registry.scans.ingest import ScanRows
from registry.scans.rules import CloneSignal

log = logging.getLogger(__name__)
CodeKey = tuple[str, str, str]  # (gtin, lot, serial)

DEFAULT_CAPACITY = 50_000
DEFAULT_FLUSH_INTERVAL = 0.25  # seconds
DEFAULT_MAX_BATCH = 1_000  # scans per transaction: short, so a waiting append is not held up


@dataclass(slots=True)  # not frozen: one is made per scan, and frozen costs 1 us more
class ScanRecord:
    gtin: str
    lot: str
    serial: str
    scanned_at: datetime
    lat: float | None = None
    lon: float | None = None
    region: str | None = None
    device: str | None = None
    batch_id: str | None = None
    brand_id: str | None = None
    # The clone signals the scan's verdict found: alerts are raised from these, and the
    # rules are not evaluated again.
    signals: tuple[CloneSignal, ...] = ()

    @property
    def key(self) -> CodeKey:
        return (self.gtin, self.lot, self.serial)


class ScanSink(Protocol):
    """Where the verifier hands consumer scans: never blocks."""

    def record(self, scan: ScanRecord) -> bool: ...


class ScanBuffer:
    """What both recorders share: a bounded queue of scans and a thread that hands them on
    in batches (`flush`) every `interval`
    seconds, or at once when a full batch waits. A subclass says where a batch goes
    (`_deliver`) and what becomes of scans that find no room (`_spill`)."""

    def __init__(self, *, capacity: int, interval: float, max_batch: int, name: str) -> None:
        self._capacity = capacity
        self._interval = interval
        self._max_batch = max_batch
        self._name = name
        self._buffer: deque[ScanRecord] = deque()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.recorded = 0

    # --- request side (never waits on the database or Redis) ----------------------------

    def record(self, scan: ScanRecord) -> bool:
        """Queue a scan; when the queue is full, whether `_spill` kept it elsewhere."""
        with self._lock:
            size = len(self._buffer)
            if size < self._capacity:
                self._buffer.append(scan)
                self.recorded += 1
                size += 1
                full = False
            else:
                full = True
        if full:
            return self._spill([scan]) == 1
        if size >= self._max_batch:
            self._wake.set()
        return True

    @property
    def buffered(self) -> int:
        with self._lock:
            return len(self._buffer)

    # --- background side ---------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread and deliver what is left (batch by batch)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            thread.join(timeout)
        while self.buffered and self._flush_safely():
            pass

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            while self._flush_safely() >= self._max_batch and not self._stopping.is_set():
                pass  # a full batch means more is waiting

    def _flush_safely(self) -> int:
        try:
            return self.flush()
        except Exception:  # the thread must survive a database outage
            log.exception("scan flush failed")
            return 0

    def flush(self) -> int:
        """Deliver up to `max_batch` queued scans; returns how many left the queue."""
        with self._flush_lock:
            with self._lock:
                take = min(len(self._buffer), self._max_batch)
                batch = [self._buffer.popleft() for _ in range(take)]
            if not batch:
                return 0
            self._deliver(batch)
            return len(batch)

    def _deliver(self, batch: list[ScanRecord]) -> None:
        """Send a batch on (runs under `_flush_lock`)."""
        raise NotImplementedError

    def _spill(self, scans: list[ScanRecord]) -> int:
        """Scans that found the queue full: how many were kept elsewhere (the rest are
        counted as dropped)."""
        raise NotImplementedError


class ScanRecorder(ScanBuffer):
    """The in-process buffer: batches go to the database, one transaction each."""

    def __init__(
        self,
        engine: Engine,
        *,
        capacity: int = DEFAULT_CAPACITY,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        super().__init__(
            capacity=capacity, interval=flush_interval, max_batch=max_batch, name="scan-recorder"
        )
        self._engine = engine
        self.dropped = 0
        self.written = 0
        self.failed_flushes = 0

    def _deliver(self, batch: list[ScanRecord]) -> None:
        """Write the batch in one transaction. On failure the scans
        go back to the front of the queue (those that no longer fit are dropped and
        counted) and the error is raised."""
        try:
            self._write(batch)
        except BaseException:
            self.failed_flushes += 1
            self._requeue(batch)
            raise
        with self._lock:
            self.written += len(batch)

    def _spill(self, scans: list[ScanRecord]) -> int:
        with self._lock:
            self.dropped += len(scans)
        return 0

    def _requeue(self, batch: list[ScanRecord]) -> None:
        with self._lock:
            room = max(0, self._capacity - len(self._buffer))
            keep, lost = batch[:room], batch[room:]
            self._buffer.extendleft(reversed(keep))
            self.dropped += len(lost)

    def _write(self, batch: list[ScanRecord]) -> None:
        # The same write as the Redis stream drain's: scans, counters, clone-signal alerts,
        # its rows made before the transaction takes SQLite's write lock.
        rows = ScanRows.of(batch, self._engine.dialect.name)
        with unit_of_work(self._engine, write=True) as session:
            rows.write(session)
