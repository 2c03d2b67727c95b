"""The verification path the HTTP routes take: codes judged against the in-process cache
(registry/verify/cache.py) and answered as JSON bytes written by orjson, with the
batch-dependent parts rendered once per batch.

The verdict logic is the service's (`judge_scan` for one code, `_judge` for bulk,
`describe_batch` for the cached parts); only where the facts come from and how the answer
is written differ, and tests/verify/test_verify_cache.py holds the two paths to the same
answers. A scan that carries a location needs the code's last located scan for impossible
travel, so the routes send those through `service.verify_code` with a session instead.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import orjson
from anyio import to_thread
from fastapi import FastAPI

from registry.core.config import get_settings
from registry.verify.cache import VerifyCache, View
from registry.verify.digital_link import LabelCode, parse_url
from registry.verify.errors import VerificationError
from registry.verify.scans import ScanRecorder
from registry.verify.schemas import Reason, ReasonCode, Verdict
from registry.verify.service import (
    ScanContext,
    _echo,
    _judge,
    check_signature,
    code_fields,
    judge_scan,
)
from registry.verify.signature import KeySet, PublicKey

_OPTIONS = orjson.OPT_UTC_Z  # datetimes as pydantic writes them (…Z)
_APP_LOCK = threading.Lock()


def verify_cache(app: FastAPI) -> VerifyCache:
    """The app's cache, made on first use and told about its scan recorder's writes."""
    cache: VerifyCache | None = getattr(app.state, "verify_cache", None)
    if cache is not None:
        return cache
    with _APP_LOCK:
        cache = getattr(app.state, "verify_cache", None)
        if cache is None:
            cache = VerifyCache.from_settings(app.state.engine, get_settings())
            recorder = getattr(app.state, "scan_recorder", None)
            for buffer in (recorder, getattr(recorder, "fallback", None)):
                if isinstance(buffer, ScanRecorder):
                    cache.attach(buffer)
            app.state.verify_cache = cache
    return cache


def _reasons(reasons: list[Reason]) -> list[dict[str, str]]:
    return [{"code": r.code.value, "message": r.message} for r in reasons]


def _invalid_answer(code: dict[str, str] | None, reasons: list[Reason], now: datetime) -> bytes:
    return orjson.dumps(
        {
            "verdict": Verdict.invalid.value,
            "reasons": _reasons(reasons),
            "code": code,
            "brand": None,
            "producer": None,
            "batch": None,
            "timeline": [],
            "chain": None,
            "scans": None,
            "checked_at": now,
        },
        option=_OPTIONS,
    )


async def verify_url(
    cache: VerifyCache, *, url: str, scan: ScanContext | None, now: datetime
) -> bytes:
    """The JSON verdict for one label URL (see `service.verify_code`); the cache is
    refreshed in a worker thread when it does not hold the code's lot."""
    try:
        code = parse_url(url)
    except VerificationError as exc:
        return _invalid_answer(
            None, [Reason(code=ReasonCode.malformed_code, message=str(exc))], now
        )
    lots = [(code.gtin, code.lot)]
    today = now.date()
    view = await cache.current_async(lots, today, counts=True)
    if view is None:
        view = await to_thread.run_sync(lambda: cache.load(lots, today, counts=True))
    return answer(view, code, scan=scan, now=now)


def answer(view: View, code: LabelCode, *, scan: ScanContext | None, now: datetime) -> bytes:
    """The JSON verdict for one code of a held lot: `service.judge_scan` on the cached facts
    (no database round trip), written with the batch's pre-rendered parts."""
    settings = get_settings()
    judged, count, first = judge_scan(
        code,
        view.keys,
        view.facts,
        stored=view.stored_count((code.gtin, code.lot, code.serial)),
        scan=scan,
        now=now,
        settings=settings,
    )
    info = code_fields(code, settings)
    if judged.verdict == Verdict.invalid or judged.batch is None or judged.brand is None:
        return _invalid_answer(info, judged.reasons, now)
    parts = view.parts[judged.batch.id]
    return orjson.dumps(
        {
            "verdict": judged.verdict.value,
            "reasons": _reasons(judged.reasons),
            "code": info,
            "brand": parts.brand,
            "producer": parts.producer,
            "batch": parts.batch,
            "timeline": parts.timeline,
            "chain": parts.chain,
            "scans": {"count": count, "first_at": first},
            "checked_at": now,
        },
        option=_OPTIONS,
    )


# Ed25519 verification in `cryptography` releases the GIL, so a bulk request's signatures
# are checked on as many threads as there are cores.
SIGNATURE_THREADS = max(1, min(8, os.cpu_count() or 1))
_SIGNATURE_POOL = ThreadPoolExecutor(SIGNATURE_THREADS, thread_name_prefix="verify-signatures")
_MIN_CHUNK = 64


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


def verify_many(cache: VerifyCache, *, codes: list[Any], now: datetime) -> bytes:
    """The JSON answer of `service.verify_many` for a bulk request, from the cache (one
    change-board read, and database queries only for lots it does not hold)."""
    settings = get_settings()
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
    view = cache.current(lots, today, counts=True) or cache.load(lots, today, counts=True)
    checks = iter(check_signatures(valid, view.keys))
    threshold = settings.scan_alert_threshold
    results: list[dict[str, Any]] = []
    for entry, item in zip(codes, parsed, strict=True):
        if not isinstance(item, LabelCode):
            results.append(
                {
                    "code": _echo(entry),
                    "verdict": Verdict.invalid.value,
                    "reasons": [{"code": ReasonCode.malformed_code.value, "message": item}],
                    "gtin": None,
                    "lot": None,
                    "serial": None,
                    "brand": None,
                    "county_codes": None,
                    "batch_id": None,
                }
            )
            continue
        stored, _ = view.stored_count((item.gtin, item.lot, item.serial))
        judged = _judge(
            item,
            view.keys,
            view.facts,
            scan_count=stored,
            default_threshold=threshold,
            checked=next(checks),
        )
        brand = judged.brand
        results.append(
            {
                "code": _echo(entry),
                "verdict": judged.verdict.value,
                "reasons": _reasons(judged.reasons),
                "gtin": item.gtin,
                "lot": item.lot,
                "serial": item.serial,
                "brand": brand.slug if brand else None,
                "county_codes": list(brand.county_codes) if brand else None,
                "batch_id": judged.batch.id if judged.batch else None,
            }
        )
    return orjson.dumps({"results": results}, option=_OPTIONS)
