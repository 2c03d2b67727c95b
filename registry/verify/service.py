"""Verification verdicts (DESIGN "Verification verdicts"): one code, or many at once.

invalid: malformed code, bad signature, unknown or revoked key, unknown batch, serial never
issued (under the signing key). recalled: a valid code of a recalled batch. suspicious: a
valid code scanned more often than the brand's threshold, of a suspended brand, of a
producer whose license is revoked or expired, or of a batch whose chain audit fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson
from sqlmodel import Session

from registry.batches.event_types import MASS_UNITS_KG
from registry.batches.ledger import LedgerEvent, effective_events
from registry.batches.models import Batch, BatchStatus, Event
from registry.brands.models import Brand, BrandStatus
from registry.core.config import Settings, get_settings
from registry.core.time import as_utc, in_offset, utcnow
from registry.labels.models import parse_serial
from registry.labels.service import published_key_set
from registry.scans.verdict import shipping_reasons, travel_reasons
from registry.verify.digital_link import (
    MAX_URL_LENGTH,
    LabelCode,
    build_url,
    parse_parts,
    parse_url,
)
from registry.verify.errors import VerificationError
from registry.verify.facts import Facts, IssuedRun, load_facts
from registry.verify.scans import CodeKey, ScanRecord, ScanSink
from registry.verify.schemas import (
    BatchInfo,
    BrandInfo,
    BulkResult,
    BulkVerifyResponse,
    ChainInfo,
    CodeInfo,
    ProducerInfo,
    Reason,
    ReasonCode,
    ScanInfo,
    TimelineEntry,
    Verdict,
    VerifyResult,
)
from registry.verify.signature import KeySet, PublicKey, verify_label


@dataclass(frozen=True)
class ScanContext:
    """A consumer scan: counted in the verdict and handed to the recorder (if any)."""

    recorder: ScanSink | None
    lat: float | None = None
    lon: float | None = None
    country: str | None = None
    client_hash: str | None = None


@dataclass
class _Judgement:
    verdict: Verdict
    reasons: list[Reason]
    batch: Batch | None = None
    brand: Brand | None = None
    chain: ChainInfo | None = None


def _invalid(code: ReasonCode, message: str) -> _Judgement:
    return _Judgement(Verdict.invalid, [Reason(code=code, message=message)])


def _issued_run(runs: Sequence[IssuedRun], number: int | None) -> IssuedRun | None:
    if number is None:
        return None
    return next((r for r in runs if r.first_serial <= number <= r.last_serial), None)


def check_signature(code: LabelCode, keys: KeySet) -> PublicKey | VerificationError:
    """The signing key of a valid, unrevoked signature, or why not (never raises)."""
    try:
        return verify_label(code, keys)
    except VerificationError as exc:
        return exc


def _judge(
    code: LabelCode,
    keys: KeySet,
    facts: Facts,
    *,
    scan_count: int,
    default_threshold: int,
    checked: PublicKey | VerificationError | None = None,
) -> _Judgement:
    """The verdict; `checked` is the outcome of `check_signature` when the caller already
    ran it (bulk verification checks signatures on several threads)."""
    if checked is None:
        checked = check_signature(code, keys)
    if isinstance(checked, VerificationError):
        return _invalid(ReasonCode(checked.reason), str(checked))
    key = checked
    candidates = facts.batches.get((code.gtin, code.lot), [])
    if not candidates:
        return _invalid(
            ReasonCode.unknown_batch, f"no batch has GTIN {code.gtin} and lot {code.lot!r}"
        )
    number = parse_serial(code.serial)
    found = [(b, _issued_run(facts.runs.get(b.id, []), number)) for b in candidates]
    batch, run = next(((b, r) for b, r in found if r is not None), (candidates[0], None))
    if run is None:
        return _invalid(
            ReasonCode.unknown_serial,
            f"serial {code.serial!r} was never issued for lot {code.lot!r}",
        )
    if run.key_id != key.kid:
        return _invalid(
            ReasonCode.unknown_serial,
            f"serial {code.serial!r} was issued under key {run.key_id}, not {key.kid}",
        )

    brand = facts.brands[batch.brand_id]
    audit = facts.audit(batch)
    reasons: list[Reason] = []
    if batch.status == BatchStatus.recalled:
        reasons.append(Reason(code=ReasonCode.batch_recalled, message="this batch was recalled"))
    threshold = brand.scan_alert_threshold or default_threshold
    if scan_count > threshold:
        reasons.append(
            Reason(
                code=ReasonCode.scan_threshold_exceeded,
                message=f"this code was scanned {scan_count} times, more than the "
                f"{threshold} expected of one package: it may have been copied",
            )
        )
    if brand.status == BrandStatus.suspended:
        reasons.append(
            Reason(code=ReasonCode.brand_suspended, message=f"brand {brand.slug!r} is suspended")
        )
    if batch.id not in facts.licensed:
        reasons.append(
            Reason(
                code=ReasonCode.license_revoked,
                message=f"the producer's license for brand {brand.slug!r} is revoked or expired",
            )
        )
    if not audit.intact:
        first = audit.problems[0]
        reasons.append(
            Reason(
                code=ReasonCode.chain_broken,
                message=f"the batch record fails its audit at event {first.seq}: {first.problem}",
            )
        )
    if batch.status == BatchStatus.recalled:
        verdict = Verdict.recalled
    elif reasons:
        verdict = Verdict.suspicious
    else:
        verdict = Verdict.genuine
    chain = ChainInfo(length=audit.length, head_hash=batch.head_hash, intact=audit.intact)
    return _Judgement(verdict, reasons, batch=batch, brand=brand, chain=chain)


# --- one code ---------------------------------------------------------------------------


class ScanJudgement(NamedTuple):
    """A code's verdict with its scan count and first scan (for a consumer scan, stored +
    pending + this one)."""

    judged: _Judgement
    scan_count: int
    first_scan_at: datetime | None


def judge_scan(
    code: LabelCode,
    keys: KeySet,
    facts: Facts,
    *,
    stored: tuple[int, datetime | None],
    scan: ScanContext | None,
    now: datetime,
    settings: Settings,
    session: Session | None = None,
) -> ScanJudgement:
    """The verdict for one code, the same on the database path (`verify_code`) and the
    cache path (registry/verify/cached.py), which differ only in where `facts` and the
    `stored` (count, first scan) come from and how the answer is written.

    With `scan`, this is a consumer scan: it counts in the scan total, a valid code gets the
    clone-signal reasons and is queued on the recorder (never written here). Impossible
    travel needs the code's last located scan, so it is checked only given a `session` (the
    cache path takes no located scans).
    """
    key: CodeKey = (code.gtin, code.lot, code.serial)
    count, first_at = stored
    first = as_utc(first_at) if first_at else None
    if scan is not None:
        if scan.recorder is not None:
            waiting, waiting_first = scan.recorder.pending(key)
            count += waiting
            first = min(filter(None, (first, waiting_first)), default=None)
        count += 1  # this scan
        first = first or now
    judged = _judge(
        code, keys, facts, scan_count=count, default_threshold=settings.scan_alert_threshold
    )
    if scan is None or judged.verdict == Verdict.invalid or judged.batch is None:
        return ScanJudgement(judged, count, first)
    extra: list[Reason] = []
    if session is not None and scan.lat is not None and scan.lon is not None:
        extra += travel_reasons(
            session, key=key, lat=scan.lat, lon=scan.lon, now=now, settings=settings
        )
    extra += shipping_reasons(facts.events.get(judged.batch.id, []), settings=settings)
    judged.reasons.extend(extra)
    if extra and judged.verdict == Verdict.genuine:
        judged.verdict = Verdict.suspicious
    if scan.recorder is not None:
        scan.recorder.record(
            ScanRecord(
                gtin=code.gtin,
                lot=code.lot,
                serial=code.serial,
                scanned_at=now,
                lat=scan.lat,
                lon=scan.lon,
                country=scan.country,
                client_hash=scan.client_hash,
            )
        )
    return ScanJudgement(judged, count, first)


def code_fields(code: LabelCode, settings: Settings) -> dict[str, str]:
    """The `code` part of an answer (`CodeInfo`'s fields)."""
    return {
        "gtin": code.gtin,
        "lot": code.lot,
        "serial": code.serial,
        "key_id": code.key_id.hex(),
        "url": build_url(settings.public_url, code.gtin, code.lot, code.serial, code.digsig),
    }


def verify_code(
    session: Session,
    *,
    url: str | None = None,
    parts: tuple[str, str, str, str | None] | None = None,
    scan: ScanContext | None = None,
    now: datetime | None = None,
) -> VerifyResult:
    """The full verdict for one code, given as a label URL or as (gtin, lot, serial, digsig),
    judged by `judge_scan` on facts loaded from the database."""
    now = now or utcnow()
    settings = get_settings()
    try:
        if url is not None:
            code = parse_url(url)
        elif parts is not None:
            code = parse_parts(*parts)
        else:
            raise ValueError("give url or parts")
    except VerificationError as exc:
        return VerifyResult(
            verdict=Verdict.invalid,
            reasons=[Reason(code=ReasonCode.malformed_code, message=str(exc))],
            code=None,
            checked_at=now,
        )
    keys = published_key_set(session)
    key: CodeKey = (code.gtin, code.lot, code.serial)
    facts = load_facts(session, [key], today=now.date())
    judged, count, first = judge_scan(
        code,
        keys,
        facts,
        stored=facts.counters.get(key, (0, None)),
        scan=scan,
        now=now,
        settings=settings,
        session=session,
    )
    info = CodeInfo(**code_fields(code, settings))
    if judged.verdict == Verdict.invalid or judged.batch is None or judged.brand is None:
        return VerifyResult(
            verdict=judged.verdict, reasons=judged.reasons, code=info, checked_at=now
        )
    described = describe_batch(judged.batch, judged.brand, facts)
    return VerifyResult(
        verdict=judged.verdict,
        reasons=judged.reasons,
        code=info,
        brand=described.brand,
        producer=described.producer,
        batch=described.batch,
        timeline=described.timeline,
        chain=judged.chain,
        scans=ScanInfo(count=count, first_at=first),
        checked_at=now,
    )


class BatchDescription(NamedTuple):
    """The parts of a verdict that depend only on the batch, not on the code or the scan."""

    brand: BrandInfo
    producer: ProducerInfo
    batch: BatchInfo
    timeline: list[TimelineEntry]


def describe_batch(batch: Batch, brand: Brand, facts: Facts) -> BatchDescription:
    """Brand, producer, batch summary and timeline of a verified code's batch (the
    verification cache renders these once per batch and reuses them)."""
    events = facts.events.get(batch.id, [])
    producer = facts.producers.get(batch.cooperative_org_id)
    return BatchDescription(
        brand=BrandInfo(
            slug=brand.slug,
            name=brand.name,
            name_local=brand.name_local,
            category=brand.category,
            county_codes=list(brand.county_codes),
            status=str(brand.status),
            description=brand.description,
            standard=brand.standard,
            category_local=brand.category_local,
            description_local=brand.description_local,
            standard_local=brand.standard_local,
        ),
        producer=ProducerInfo(
            id=batch.cooperative_org_id,
            name=producer.name if producer else "",
            county_code=producer.county_code if producer else None,
            name_en=producer.name_en if producer else None,
        ),
        batch=_batch_info(batch, events),
        timeline=[_timeline_entry(e, facts) for e in events],
    )


def _batch_info(batch: Batch, events: list[Event]) -> BatchInfo:
    """The batch summary, with corrections applied to its harvest events."""
    by_seq = {e.seq: e for e in events}
    harvests = [
        e
        for e in effective_events(
            [LedgerEvent(e.seq, e.type, e.actor_org_id, e.data) for e in events]
        )
        if e.type == "harvested"
    ]
    first = harvests[0] if harvests else None
    location = (by_seq[first.seq].location or {}) if first else {}
    return BatchInfo(
        id=batch.id,
        lot=batch.lot,
        product=batch.product,
        variety=batch.variety,
        status=str(batch.status),
        harvest_date=date.fromisoformat(first.data["harvest_date"]) if first else None,
        harvest_place=location.get("place"),
        harvest_county_code=location.get("county_code"),
        harvested_kg=sum(
            float(h.data["quantity"]) * MASS_UNITS_KG[h.data["unit"]] for h in harvests
        )
        if harvests
        else None,
    )


def _timeline_entry(event: Event, facts: Facts) -> TimelineEntry:
    location = event.location or {}
    return TimelineEntry(
        seq=event.seq,
        type=event.type,
        event_time=in_offset(event.event_time, event.event_time_offset),
        actor=facts.actor_names.get(event.actor_org_id, event.actor_org_id),
        actor_en=facts.actor_names_en.get(event.actor_org_id),
        place=location.get("place"),
        county_code=location.get("county_code"),
        data=event.data,
    )


# --- many codes -------------------------------------------------------------------------


def _echo(entry: Any) -> str:
    """The entry as the answer repeats it: text, cut to a URL's maximum length, and
    encodable (a lone surrogate in the request must not break the response)."""
    text = entry if isinstance(entry, str) else orjson.dumps(entry, default=str).decode()
    if len(text) > MAX_URL_LENGTH:
        text = text[:MAX_URL_LENGTH] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def verify_many(
    session: Session, *, codes: list[Any], now: datetime | None = None
) -> BulkVerifyResponse:
    """Verdicts for many codes, in request order, with a fixed number of queries.

    Entries that are not label URLs answer `invalid` / `malformed_code`; bulk checks are
    listings, not consumer scans, so nothing is recorded and the scan count is the stored one.
    """
    now = now or utcnow()
    settings = get_settings()
    parsed: list[LabelCode | VerificationError | str] = []
    for entry in codes:
        if not isinstance(entry, str):
            parsed.append("entry is not a string")
            continue
        try:
            parsed.append(parse_url(entry))
        except VerificationError as exc:
            parsed.append(exc)
    valid = [p for p in parsed if isinstance(p, LabelCode)]
    keys = published_key_set(session)
    facts = load_facts(session, [(c.gtin, c.lot, c.serial) for c in valid], today=now.date())
    results: list[BulkResult] = []
    for entry, item in zip(codes, parsed, strict=True):
        text = _echo(entry)
        if not isinstance(item, LabelCode):
            message = item if isinstance(item, str) else str(item)
            results.append(
                BulkResult(
                    code=text,
                    verdict=Verdict.invalid,
                    reasons=[Reason(code=ReasonCode.malformed_code, message=message)],
                )
            )
            continue
        stored, _ = facts.counters.get((item.gtin, item.lot, item.serial), (0, None))
        judged = _judge(
            item,
            keys,
            facts,
            scan_count=stored,
            default_threshold=settings.scan_alert_threshold,
        )
        results.append(
            BulkResult(
                code=text,
                verdict=judged.verdict,
                reasons=judged.reasons,
                gtin=item.gtin,
                lot=item.lot,
                serial=item.serial,
                brand=judged.brand.slug if judged.brand else None,
                county_codes=list(judged.brand.county_codes) if judged.brand else None,
                batch_id=judged.batch.id if judged.batch else None,
            )
        )
    return BulkVerifyResponse(results=results)
