"""The verdict, once (DESIGN "Verification verdicts"): a pure function of the code, the
published keys, the lot facts, the code's scan evidence, the rules and the time. No
session, no I/O: the single-code, bulk, page and CLI paths all call `judge`, and the alerts
a consumer scan raises are the `signals` it returns.

invalid: malformed code, bad signature, unknown or revoked key, unknown batch, serial never
issued (under the signing key). recalled: a valid code of a recalled batch. suspicious: a
valid code with a clone signal (registry/scans/rules.py), of a suspended brand, of a
producer whose licence is not in force, or of a batch whose chain audit fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.batches.models import Batch, BatchStatus
from registry.brands.models import Brand, BrandStatus
from registry.codes.digital_link import LabelCode
from registry.codes.errors import VerificationError
from registry.codes.signature import KeySet, PublicKey, VerifiedSignatures, verify_label
from registry.labels.models import parse_serial
from registry.scans.rules import (
    NOT_YET_SHIPPED,
    CloneRules,
    CloneSignal,
    CodeScans,
    Located,
    clone_signals,
)
from registry.verify.facts import Facts, RunRange
from registry.verify.schemas import Reason, ReasonCode, Verdict


@dataclass
class Judgement:
    verdict: Verdict
    reasons: list[Reason]
    batch: Batch | None = None
    brand: Brand | None = None
    # Clone signals of a consumer scan (for alerts and the device counter's flag); some
    # are not verdict reasons (`not_yet_shipped` where the operator keeps it an alert).
    signals: list[CloneSignal] = field(default_factory=list)
    threshold: int | None = None


def check_signature(
    code: LabelCode, keys: KeySet, verified: VerifiedSignatures | None = None
) -> PublicKey | VerificationError:
    """The signing key of a valid, unrevoked signature, or why not (never raises)."""
    try:
        return verify_label(code, keys, verified=verified)
    except VerificationError as exc:
        return exc


def _invalid(code: ReasonCode, message: str) -> Judgement:
    return Judgement(Verdict.invalid, [Reason(code=code, message=message)])


def _issued_run(runs: list[RunRange], number: int | None) -> RunRange | None:
    if number is None:
        return None
    return next((r for r in runs if r.first_serial <= number <= r.last_serial), None)


def issued(
    code: LabelCode, keys: KeySet, facts: Facts, checked: PublicKey | VerificationError | None
) -> tuple[Batch, Brand] | Judgement:
    """The batch and brand of a code whose signature and serial check out, else the
    `invalid` judgement saying why."""
    if checked is None:
        checked = check_signature(code, keys)
    if isinstance(checked, VerificationError):
        return _invalid(ReasonCode(checked.reason), str(checked))
    candidates = facts.batches.get((code.gtin, code.lot), [])
    if not candidates:
        return _invalid(
            ReasonCode.unknown_batch, f"no batch has GTIN {code.gtin} and lot {code.lot!r}"
        )
    number = parse_serial(code.serial)
    batch, run = candidates[0], None
    for candidate in candidates:
        run = _issued_run(facts.runs.get(candidate.id, []), number)
        if run is not None:
            batch = candidate
            break
    if run is None:
        return _invalid(
            ReasonCode.unknown_serial,
            f"serial {code.serial!r} was never issued for lot {code.lot!r}",
        )
    if run.key_id != checked.kid:
        return _invalid(
            ReasonCode.unknown_serial,
            f"serial {code.serial!r} was issued under key {run.key_id}, not {checked.kid}",
        )
    return batch, facts.brands[batch.brand_id]


def judge(
    code: LabelCode,
    keys: KeySet,
    facts: Facts,
    scans: CodeScans | None,
    rules: CloneRules,
    *,
    here: Located | None = None,
    consumer_scan: bool = False,
    checked: PublicKey | VerificationError | None = None,
    found: tuple[Batch, Brand] | None = None,
) -> Judgement:
    """The verdict for one code. `scans` is the code's device evidence (None: not known);
    `consumer_scan` says a phone is asking (its scan raises alerts and not-yet-shipped is
    checked); `checked` is `check_signature`'s outcome when the caller already ran it (bulk
    checks signatures on several threads); `found`, `issued`'s batch and brand when the
    caller already has them (a consumer scan counts its device only for an issued code)."""
    if found is None:
        issued_as = issued(code, keys, facts, checked)
        if isinstance(issued_as, Judgement):
            return issued_as
        found = issued_as
    batch, brand = found
    audit = facts.audits[batch.id]
    reasons: list[Reason] = []
    if batch.status == BatchStatus.recalled:
        reasons.append(Reason(code=ReasonCode.batch_recalled, message="this batch was recalled"))
    signals: list[CloneSignal] = []
    if scans is not None:
        signals += clone_signals(
            scans, here=here, brand_threshold=brand.scan_alert_threshold, rules=rules
        )
    if consumer_scan:
        shipping = facts.shipping(batch.id)
        if shipping is not None:
            signals.append(shipping)
    for signal in signals:
        if signal.kind != NOT_YET_SHIPPED or rules.unshipped_scans_suspicious:
            reasons.append(Reason(code=ReasonCode(signal.kind), message=signal.message))
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
    return Judgement(
        verdict,
        reasons,
        batch=batch,
        brand=brand,
        signals=signals,
        threshold=rules.threshold(brand.scan_alert_threshold),
    )
