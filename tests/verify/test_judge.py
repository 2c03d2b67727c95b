"""`judge` alone: a pure function of code, keys, lot facts, scan evidence, rules and time.
These facts are built in memory, with no database, session or network anywhere."""

from __future__ import annotations

from datetime import UTC, datetime

from registry.batches.models import Batch, BatchStatus, Event
from registry.batches.schemas import AuditReport
from registry.brands.models import Brand, BrandStatus
from registry.codes.digital_link import build_url, parse_url
from registry.codes.signature import KeySet, PublicKey, key_id_for
from registry.labels import crypto
from registry.scans.rules import CloneRules, CodeScans, Flag
from registry.verify.facts import Facts, RunRange
from registry.verify.judge import judge
from registry.verify.schemas import Verdict

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
GTIN, LOT = "06901234567892", "RJ-1"
RULES = CloneRules(default_threshold=4, max_travel_kmh=900, min_travel_km=50)


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
