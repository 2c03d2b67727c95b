"""The scan counters of this process, as Prometheus samples."""

from __future__ import annotations

from dataclasses import dataclass

from registry.core.metrics import Sample
from registry.scans.records import ScanRecorder
from registry.scans.stream import StreamScanRecorder


@dataclass
class ScanMetrics:
    """Reads the recorder in use: the Redis stream one (and its fallback) or the buffer."""

    recorder: StreamScanRecorder | ScanRecorder

    def metrics(self) -> list[Sample]:
        stream = self.recorder if isinstance(self.recorder, StreamScanRecorder) else None
        buffer = stream.fallback if stream else self.recorder
        assert isinstance(buffer, ScanRecorder)
        recorded = stream.recorded if stream else buffer.recorded
        dropped = buffer.dropped + (stream.dropped if stream else 0)
        samples = [
            Sample(
                "scans_recorded_total",
                "counter",
                "Consumer scans accepted for recording by this process.",
                recorded,
            ),
            Sample(
                "scans_dropped_total",
                "counter",
                "Consumer scans lost because every buffer was full.",
                dropped,
            ),
            Sample(
                "scans_buffer_written_total",
                "counter",
                "Scans written to the database by this process's in-process buffer.",
                buffer.written,
            ),
            Sample(
                "scans_buffer_failed_flushes_total",
                "counter",
                "In-process buffer writes that failed (the scans were kept for a retry).",
                buffer.failed_flushes,
            ),
            Sample(
                "scans_buffered",
                "gauge",
                "Scans waiting in the in-process buffer.",
                buffer.buffered,
            ),
        ]
        if stream is not None:
            samples.extend(stream.metrics())
        return samples
