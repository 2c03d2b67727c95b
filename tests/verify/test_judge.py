"""`judge` alone: a pure function of code, keys, lot facts, scan evidence, rules and time.
These facts are built in memory, with no database, session or network anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registry.batches.models import Batch, BatchStatus, Event
from registry.batches.schemas import AuditReport, ChainProblemPublic
from registry.brands.models import Brand, BrandStatus
from registry.codes.digital_link import build_url, parse_url
from registry.codes.errors import VerificationError
from registry.codes.signature import KeySet, PublicKey, key_id_for
from registry.labels import crypto
from registry.scans.rules import CloneRules, CodeScans, Flag, Located
from registry.verify.facts import Facts, RunRange
from registry.verify.judge import check_signature, judge
from registry.verify.schemas import Verdict

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
GTIN, LOT = "06901234567892", "RJ-1"
RULES = CloneRules(default_threshold=4, max_travel_kmh=900, min_travel_km=50)
REGISTRY_KEY_ID = key_id_for(crypto.public_raw(crypto.private_key_from_seed(bytes(32))))


def _world(status: BatchStatus = BatchStatus.open, shipped: bool = True) -> tuple:
    private = crypto.private_key_from_seed(bytes(32))
    raw = crypto.public_raw(private)
    key_id = key_id_for(raw)
    keys = KeySet([PublicKey(key_id, raw, "active")])
    brand = Brand(
        id="b",
        slug="rj",
        name="RJ",
        category="orange",
        county_codes=["522632"],
        status=BrandStatus.active,
        owner_org_id="o",
    )
    batch = Batch(
        id="x",
        brand_id="b",
        cooperative_org_id="c",
        lot=LOT,
        product="orange",
        gtin=GTIN,
        status=status,
        head_seq=1,
        head_hash="0" * 64,
    )
    events = [
        Event(
            id="e",
            batch_id="x",
            seq=1,
            type="shipped" if shipped else "packed",
            event_time=T0,
            actor_org_id="c",
            data={},
            prev_hash="0" * 64,
            hash="0" * 64,
        )
    ]
    facts = Facts(
        batches={(GTIN, LOT): [batch]},
        runs={"x": [RunRange(1, 10, key_id.hex())]},
        brands={"b": brand},
        licensed={"x"},
        events={"x": events},
        audits={
            "x": AuditReport(batch_id="x", intact=True, length=2, head_hash="0" * 64, problems=[])
        },
    )

    def code(serial: str) -> object:
        digsig = crypto.sign_label(private, key_id, GTIN, LOT, serial)
        return parse_url(build_url("https://r.example", GTIN, LOT, serial, digsig))

    return keys, facts, code


def test_judge_needs_no_database() -> None:
    keys, facts, code = _world()
    genuine = judge(code("00000001"), keys, facts, CodeScans(1, 1, T0), RULES)
    assert (genuine.verdict, genuine.reasons, genuine.threshold) == (Verdict.genuine, [], 4)
    unissued = judge(code("00000011"), keys, facts, None, RULES)
    assert [r.code for r in unissued.reasons] == ["unknown_serial"]
    assert unissued.verdict == Verdict.invalid
    flag = Flag("scan_threshold_exceeded", T0, "copied")
    flagged = CodeScans(7, None, T0, "Kaili, CN", flag)
    bulk = judge(code("00000001"), keys, facts, flagged, RULES)  # no device: a bulk check
    assert bulk.verdict == Verdict.suspicious
    assert "Kaili, CN" in bulk.reasons[0].message
    first = judge(code("00000001"), keys, facts, CodeScans(7, 1, T0, None, flag), RULES)
    assert first.verdict == Verdict.genuine  # the first device keeps its answer


def test_shipping_is_a_reason_only_for_consumer_scans_and_only_if_asked() -> None:
    keys, facts, code = _world(shipped=False)
    scans = CodeScans(1, 1, T0)
    scanned = judge(code("00000002"), keys, facts, scans, RULES, consumer_scan=True)
    assert [r.code for r in scanned.reasons] == ["not_yet_shipped"]
    assert [s.kind for s in scanned.signals] == ["not_yet_shipped"]
    assert judge(code("00000002"), keys, facts, scans, RULES).verdict == Verdict.genuine
    quiet = CloneRules(4, 900, 50, unshipped_scans_suspicious=False)
    alert_only = judge(code("00000002"), keys, facts, scans, quiet, consumer_scan=True)
    assert alert_only.verdict == Verdict.genuine
    assert [s.kind for s in alert_only.signals] == ["not_yet_shipped"]  # still an alert
    keys, facts, code = _world(BatchStatus.recalled)
    recalled = judge(code("00000003"), keys, facts, scans, RULES, consumer_scan=True)
    assert recalled.verdict == Verdict.recalled  # recalled wins over any suspicion
    assert [r.code for r in recalled.reasons] == ["batch_recalled"]


def test_a_genuine_judgement_carries_the_lot_and_its_chain() -> None:
    keys, facts, code = _world()
    (batch,) = facts.batches[(GTIN, LOT)]
    facts.brands["b"].scan_alert_threshold = 2
    last = judge(code("00000010"), keys, facts, CodeScans(1, 1, T0), RULES)  # last serial
    assert (last.verdict, last.batch, last.brand, last.threshold) == (
        Verdict.genuine,
        batch,
        facts.brands["b"],
        2,  # the brand's threshold wins over the rules' 4
    )
    # The brand's threshold decides: three phones are too many for it.
    crowded = judge(code("00000001"), keys, facts, CodeScans(3, 3, T0), RULES)
    assert [r.code for r in crowded.reasons] == ["scan_threshold_exceeded"]
    assert [s.kind for s in crowded.signals] == ["scan_threshold_exceeded"]


def test_a_scan_far_from_the_last_is_judged_with_the_place_given() -> None:
    keys, facts, code = _world()
    shanghai = Located(T0, 31.2, 121.5, 10, "a" * 32, "Shanghai, CN")
    beijing = Located(T0 + timedelta(minutes=30), 39.9, 116.4, 10, "b" * 32, "Beijing, CN")
    scans = CodeScans(2, 2, T0, last_located=shanghai)
    moved = judge(code("00000001"), keys, facts, scans, RULES, here=beijing)
    assert (moved.verdict, [r.code for r in moved.reasons]) == (
        Verdict.suspicious,
        ["impossible_travel"],
    )
    assert judge(code("00000001"), keys, facts, scans, RULES).verdict == Verdict.genuine


def test_invalid_codes_say_why() -> None:
    keys, facts, code = _world()
    private = crypto.private_key_from_seed(bytes(32))
    forged_sig = crypto.sign_label(
        private, REGISTRY_KEY_ID, GTIN, LOT, "00000002"
    )  # another serial's
    forged = parse_url(build_url("https://r.example", GTIN, LOT, "00000001", forged_sig))
    bad = judge(forged, keys, facts, None, RULES)
    assert (bad.verdict, [r.code for r in bad.reasons]) == (Verdict.invalid, ["bad_signature"])
    assert bad.reasons[0].message == str(check_signature(forged, keys))
    assert (bad.batch, bad.brand) == (None, None)
    # A check the caller already ran is used, not run again.
    genuine = code("00000001")
    failed = check_signature(forged, keys)
    assert isinstance(failed, VerificationError)
    reused = judge(genuine, keys, facts, None, RULES, checked=failed)
    assert [r.code for r in reused.reasons] == ["bad_signature"]
    facts.batches[(GTIN, "RJ-2")] = facts.batches.pop((GTIN, LOT))
    unknown = judge(genuine, keys, facts, None, RULES)
    assert [r.code for r in unknown.reasons] == ["unknown_batch"]
    assert GTIN in unknown.reasons[0].message
    assert repr(LOT) in unknown.reasons[0].message


def test_a_serial_must_be_issued_under_the_signing_key() -> None:
    keys, facts, code = _world()
    facts.runs["x"] = [RunRange(1, 10, "ffff")]
    other_key = judge(code("00000001"), keys, facts, None, RULES)
    assert [r.code for r in other_key.reasons] == ["unknown_serial"]
    assert "ffff" in other_key.reasons[0].message  # the run's key
    assert REGISTRY_KEY_ID.hex() in other_key.reasons[0].message  # the signing key
    facts.runs.clear()  # a batch with no label run at all
    unissued = judge(code("00000001"), keys, facts, None, RULES)
    assert [r.code for r in unissued.reasons] == ["unknown_serial"]
    assert "'00000001'" in unissued.reasons[0].message


def test_a_lot_sharing_gtin_and_lot_is_found_by_its_run() -> None:
    keys, facts, code = _world()
    (batch,) = facts.batches[(GTIN, LOT)]
    twin = batch.model_copy(update={"id": "y"})
    facts.batches[(GTIN, LOT)] = [twin, batch]
    facts.runs["y"] = [RunRange(11, 20, facts.runs["x"][0].key_id)]
    facts.audits["y"] = facts.audits["x"]
    facts.licensed.add("y")
    assert judge(code("00000012"), keys, facts, None, RULES).batch is twin
    assert judge(code("00000002"), keys, facts, None, RULES).batch is batch


def test_brand_licence_and_chain_make_a_valid_code_suspicious() -> None:
    keys, facts, code = _world()
    facts.brands["b"].status = BrandStatus.suspended
    facts.licensed.clear()
    facts.audits["x"] = AuditReport(
        batch_id="x",
        intact=False,
        length=2,
        head_hash="0" * 64,
        problems=[
            ChainProblemPublic(seq=1, problem="prev_hash does not link"),
            ChainProblemPublic(seq=2, problem="hash mismatch"),
        ],
    )
    j = judge(code("00000001"), keys, facts, None, RULES)
    assert j.verdict == Verdict.suspicious
    assert [r.code for r in j.reasons] == ["brand_suspended", "license_revoked", "chain_broken"]
    suspended, revoked, broken = (r.message for r in j.reasons)
    assert "'rj'" in suspended
    assert "'rj'" in revoked
    assert "event 1: prev_hash does not link" in broken
    recalled_too = judge(code("00000001"), *_recalled(keys, facts), None, RULES)
    assert recalled_too.verdict == Verdict.recalled
    assert recalled_too.reasons[0].code == "batch_recalled"


def test_a_consumer_scan_of_a_batch_with_no_events_is_not_yet_shipped() -> None:
    keys, facts, code = _world()
    facts.events.clear()
    j = judge(code("00000001"), keys, facts, None, RULES, consumer_scan=True)
    assert [r.code for r in j.reasons] == ["not_yet_shipped"]


def _recalled(keys: KeySet, facts: Facts) -> tuple[KeySet, Facts]:
    for batches in facts.batches.values():
        for batch in batches:
            batch.status = BatchStatus.recalled
    return keys, facts
