"""`registry verify-code`: the three ways to check a label, each returning (genuine?, lines).

Offline uses only the pure core and a JWKS file, so it can say whether the signature is the
registry's and the key is not revoked, but nothing about recalls, issued serials or scans.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from registry.codes.digital_link import parse_url
from registry.codes.errors import VerificationError
from registry.codes.signature import KeySet, verify_label
from registry.core.config import get_settings
from registry.verify.schemas import Verdict, VerifyResult

OFFLINE_SCOPE = (
    "offline check: signature and key status only; recall, issued serials, scans and the "
    "batch chain are checked online"
)
REMOTE_TIMEOUT = 15.0


def offline(url: str, keys_file: Path, *, as_json: bool) -> tuple[bool, list[str]]:
    """True when the code is well formed and signed by a published, unrevoked key."""
    try:
        keys = KeySet.from_jwks(json.loads(keys_file.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:  # KeySetError and JSONDecodeError are ValueErrors
        return False, [f"error: cannot use {keys_file} as a JWKS: {exc}"]
    try:
        code = parse_url(url)
        key = verify_label(code, keys)
    except VerificationError as exc:
        outcome = {"signature": "invalid", "reason": exc.reason, "message": str(exc)}
        lines = [f"signature: invalid ({exc.reason})", f"  {exc}", OFFLINE_SCOPE]
        return False, [json.dumps(outcome)] if as_json else lines
    outcome = {"signature": "valid", "key_id": key.kid, "key_status": key.status}
    lines = [
        f"signature: valid (key {key.kid}, {key.status})",
        f"  GTIN {code.gtin}  lot {code.lot}  serial {code.serial}",
        OFFLINE_SCOPE,
    ]
    return True, [json.dumps(outcome)] if as_json else lines


def local(url: str, *, as_json: bool) -> tuple[bool, list[str]]:
    """The full verdict from this registry's database and device counters (not counted as
    a consumer scan: a flagged code reads as flagged, as the bulk check sees it)."""
    from registry.core.db import get_engine
    from registry.core.time import utcnow
    from registry.scans.counter import device_counter_for
    from registry.verify.cache import VerifyCache
    from registry.verify.service import Verifier

    settings = get_settings()
    verifier = Verifier.from_settings(
        settings,
        cache=VerifyCache.from_settings(
            get_engine(), settings.model_copy(update={"verify_cache_ttl": 0})
        ),
        counter=device_counter_for(settings, get_engine()),
        recorder=None,
    )
    result = VerifyResult.model_validate_json(verifier.check(url, now=utcnow()))
    return _report(result, as_json)


def remote(url: str, base_url: str, *, as_json: bool) -> tuple[bool, list[str]]:
    """The full verdict from the registry at `base_url`, asked for the code's path."""
    parts = urlsplit(url.strip())
    target = base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    request = urllib.request.Request(target, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=REMOTE_TIMEOUT) as response:
            result = VerifyResult.model_validate_json(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, [f"error: could not ask {base_url}: {exc}"]
    return _report(result, as_json)


def _report(result: VerifyResult, as_json: bool) -> tuple[bool, list[str]]:
    ok = result.verdict == Verdict.genuine
    if as_json:
        return ok, [result.model_dump_json()]
    lines = [f"verdict: {result.verdict}"]
    if result.brand and result.batch:
        lines.append(
            f"  {result.brand.name} ({', '.join(result.brand.county_codes)}), "
            f"lot {result.batch.lot}, batch {result.batch.id}"
        )
    if result.producer:
        lines.append(f"  producer: {result.producer.name}")
    if result.chain:
        state = "intact" if result.chain.intact else "BROKEN"
        lines.append(f"  chain: {result.chain.length} events, {state}")
    lines.extend(f"  - {r.code}: {r.message}" for r in result.reasons)
    return ok, lines
