"""Verification, one path from a label URL to the answer: parse (registry/codes/), lot facts
from the cache (registry/verify/cache.py), the device counter taken before the answer
(registry/scans/counter.py), the pure verdict (registry/verify/judge.py), the scan handed to
the recorder, the answer written once (registry/verify/answer.py).

A consumer scan (the label URL, HTML or JSON) counts its device; a bulk or CLI check reads
the counters without counting (`peek`), so it sees a flagged code as flagged and never
flags one itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from anyio import CapacityLimiter, to_thread

from registry.codes.digital_link import LabelCode, parse_url
from registry.codes.errors import VerificationError
from registry.codes.signature import KeySet, PublicKey, VerifiedSignatures
from registry.core.config import Settings
from registry.core.metrics import Sample
from registry.scans.counter import CodeKey, DeviceCounter
from registry.scans.geo import Place
from registry.scans.records import ScanRecord, ScanSink
from registry.scans.rules import CloneRules, CodeScans, Located, flag_of
from registry.verify.answer import bulk_entry, code_fields, write_answer, write_bulk
from registry.verify.cache import VerifyCache, View
from registry.verify.judge import Judgement, check_signature, issued, judge
from registry.verify.schemas import Reason, ReasonCode, Verdict

# Ed25519 verification in libsodium releases the GIL (PyNaCl's cffi calls do), so a bulk
# request's signatures are checked on as many threads as there are cores.
SIGNATURE_THREADS = max(1, min(8, os.cpu_count() or 1))
_SIGNATURE_POOL = ThreadPoolExecutor(SIGNATURE_THREADS, thread_name_prefix="verify-signatures")
_MIN_CHUNK = 64
LOADER_THREADS = 4  # worker threads that load lot facts for scans that missed the cache
# Consumer scans' signatures remembered (VerifiedSignatures): two generations of this many,
# about 200 bytes each, so at most about 28 MB. They hold the last 13-26 s of scans at
# 5,000 scans/s, the last 11-22 minutes at 100/s (docs/decisions.md, "Session 12").
VERIFIED_SIGNATURES = 65_536


def check_signatures(codes: list[LabelCode], keys: KeySet) -> list[PublicKey | VerificationError]:
    """`check_signature` for each code, in order, spread over the signature threads."""

    def check(chunk: list[LabelCode]) -> list[PublicKey | VerificationError]:
        return [check_signature(code, keys) for code in chunk]

    size = max(_MIN_CHUNK, -(-len(codes) // SIGNATURE_THREADS))
    if len(codes) <= size:
        return check(codes)
    chunks = [codes[i : i + size] for i in range(0, len(codes), size)]
    rest = _SIGNATURE_POOL.map(check, chunks[1:])
    first = check(chunks[0])  # this thread takes a share too
    return [*first, *(outcome for chunk in rest for outcome in chunk)]


def _malformed(message: str) -> Judgement:
    return Judgement(Verdict.invalid, [Reason(code=ReasonCode.malformed_code, message=message)])


@dataclass(frozen=True)
class Scanned:
    """A consumer scan's answer (JSON bytes) and its verdict."""

    body: bytes
    verdict: Verdict


@dataclass
class Verifier:
    """What every verification needs, made once per process (registry/main.py)."""

    cache: VerifyCache
    counter: DeviceCounter
    rules: CloneRules
    public_url: str
    recorder: ScanSink | None = None
    # Scans whose lot is not cached wait here for one of a few worker threads instead of
    # each taking one: under a flood of scans and writes, loads blocked on the cache's
    # one-loader lock once held most of the shared pool, and writes queued behind them.
    loaders: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(LOADER_THREADS))
    # A consumer scan's label is often scanned again within the minute (reloads, the page's
    # language link, a household's other phone): its signature is then not checked again.
    verified: VerifiedSignatures = field(
        default_factory=lambda: VerifiedSignatures(VERIFIED_SIGNATURES)
    )
    # Bulk calls run one at a time per process, their signatures checked on every core
    # (check_signatures): more at once added no throughput, only threads holding the GIL
    # that a write's thread then waited for (issue 15).
    bulk_calls: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(1))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        cache: VerifyCache,
        counter: DeviceCounter,
        recorder: ScanSink | None,
    ) -> Verifier:
        return cls(
            cache=cache,
            counter=counter,
            rules=CloneRules.from_settings(settings),
            public_url=settings.public_url,
            recorder=recorder,
        )

    def metrics(self) -> list[Sample]:
        return [
            Sample(
                "scan_signatures_total",
                "counter",
                "Consumer scans whose signature was looked up (valid key, not revoked).",
                self.verified.checked,
            ),
            Sample(
                "scan_signatures_remembered_total",
                "counter",
                "Of those, signatures that had verified before and were not checked again.",
                self.verified.remembered,
            ),
        ]

    async def _view(self, code: LabelCode, now: datetime) -> View:
        lots = [(code.gtin, code.lot)]
        view = await self.cache.current_async(lots, now.date())
        if view is None:
            view = await to_thread.run_sync(self.cache.load, lots, now.date(), limiter=self.loaders)
        return view

    async def scan(self, url: str, *, device: str, place: Place | None, now: datetime) -> Scanned:
        """A consumer scan: the device is counted (atomically, before the verdict) only for
        a code whose signature and serial check out, so forged URLs count nothing."""
        try:
            code = parse_url(url)
        except VerificationError as exc:
            judged = _malformed(str(exc))
            return Scanned(write_answer(judged, None, None, None, now), judged.verdict)
        view = await self._view(code, now)
        checked = check_signature(code, view.keys, self.verified)
        info = code_fields(code, self.public_url)
        found = issued(code, view.keys, view.facts, checked)
        if isinstance(found, Judgement):
            return Scanned(write_answer(found, info, None, None, now), found.verdict)
        key: CodeKey = (code.gtin, code.lot, code.serial)
        here = (
            Located(now, place.lat, place.lon, place.radius_km, device, place.region)
            if place
            else None
        )
        scans = await self.counter.observe(key, device, at=now, here=here)
        judged = judge(
            code, view.keys, view.facts, scans, self.rules,
            here=here, consumer_scan=True, found=found,
        )  # fmt: skip
        for signal in judged.signals:
            if signal.raises_flag:
                flag = flag_of(signal, now)
                await self.counter.flag(key, flag)
                scans = replace(scans, flag=flag)
        batch = judged.batch
        assert batch is not None
        if self.recorder is not None:
            self.recorder.record(
                ScanRecord(
                    gtin=code.gtin,
                    lot=code.lot,
                    serial=code.serial,
                    scanned_at=now,
                    lat=place.lat if place else None,
                    lon=place.lon if place else None,
                    region=place.region if place else None,
                    device=device,
                    batch_id=batch.id,
                    brand_id=batch.brand_id,
                    signals=tuple(judged.signals),
                )
            )
        body = write_answer(judged, info, view.parts[batch.id], scans, now)
        return Scanned(body, judged.verdict)

    def check(self, url: str, *, now: datetime) -> bytes:
        """One code's full answer without counting a scan (the CLI): a flagged code reads
        as flagged, as a bulk check sees it."""
        try:
            code = parse_url(url)
        except VerificationError as exc:
            return write_answer(_malformed(str(exc)), None, None, None, now)
        lots = [(code.gtin, code.lot)]
        view = self.cache.current(lots, now.date()) or self.cache.load(lots, now.date())
        [scans] = self.counter.peek([(code.gtin, code.lot, code.serial)])
        judged = judge(code, view.keys, view.facts, scans, self.rules)
        parts = view.parts.get(judged.batch.id) if judged.batch else None
        return write_answer(judged, code_fields(code, self.public_url), parts, scans, now)

    def check_many(self, codes: Sequence[Any], now: datetime) -> bytes:
        """A bulk answer, in request order; entries that are not label URLs answer
        `invalid` / `malformed_code`. Listings, not scans: nothing is counted."""
        parsed: list[LabelCode | str] = []
        for entry in codes:
            if not isinstance(entry, str):
                parsed.append("entry is not a string")
                continue
            try:
                parsed.append(parse_url(entry))
            except VerificationError as exc:
                parsed.append(str(exc))
        valid = [c for c in parsed if isinstance(c, LabelCode)]
        lots = list(dict.fromkeys((c.gtin, c.lot) for c in valid))
        today = now.date()
        view = self.cache.current(lots, today) or self.cache.load(lots, today)
        checks = iter(check_signatures(valid, view.keys))
        evidence: list[CodeScans] = self.counter.peek([(c.gtin, c.lot, c.serial) for c in valid])
        scans = iter(evidence)
        results = []
        for entry, item in zip(codes, parsed, strict=True):
            if isinstance(item, LabelCode):
                judged = judge(
                    item, view.keys, view.facts, next(scans), self.rules, checked=next(checks)
                )
                results.append(bulk_entry(entry, item, judged))
            else:
                results.append(bulk_entry(entry, None, _malformed(item)))
        return write_bulk(results)
