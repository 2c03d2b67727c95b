"""GET /01/{gtin}/10/{lot}/21/{serial}?8030=…: every verdict and reason, on both backends."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.labels import service
from tests.factories import BRAND, GTIN, World, label_codes, labeled_batch, recalled
from tests.verify.helpers import (
    flip_signature_bit,
    path_of,
    phone,
    reason_codes,
    signed_url,
    tamper_event_data,
    verify,
    with_key_id,
    with_parts,
)

OTHER_GTIN = "04006381333931"


@pytest.fixture
def labels(world: World) -> tuple[dict[str, str], dict[str, str], list[str]]:
    batch, run = labeled_batch(world, units=100, count=5)
    return batch, run, label_codes(world, run["run_id"])


def test_a_genuine_code_says_where_it_came_from(world: World, labels: tuple) -> None:
    batch, run, urls = labels
    result = verify(world, urls[0])
    assert result["verdict"] == "genuine"
    assert result["reasons"] == []
    assert result["code"] == {
        "gtin": GTIN,
        "lot": batch["lot"],
        "serial": "00000001",
        "key_id": run["key_id"],
        "url": urls[0],
    }
    assert result["brand"]["slug"] == BRAND
    assert result["brand"]["county_codes"] == ["522632"]
    assert result["brand"]["name_local"] == "榕江脐橙"
    assert result["producer"] == {
        "id": world.coop.id,
        "name": "coop org",
        "county_code": "522632",
        "name_en": None,
    }
    summary = result["batch"]
    assert (summary["id"], summary["lot"], summary["status"]) == (batch["id"], batch["lot"], "open")
    assert summary["harvest_date"] == "2026-11-20"
    assert summary["harvest_place"] == "plot A-12"
    assert summary["harvest_county_code"] == "522632"
    assert summary["harvested_kg"] == 5000
    # In the order things happened: the batch was registered (and labeled) today, after
    # its harvest, packing and shipment were recorded with their own times; `seq` keeps
    # the chain's order.
    assert [(e["type"], e["seq"]) for e in result["timeline"]] == [
        ("harvested", 1),
        ("packed", 2),
        ("shipped", 4),
        ("created", 0),
        ("labeled", 3),
    ]
    assert {e["actor"] for e in result["timeline"]} == {"coop org"}
    assert result["timeline"][0]["event_time"] == "2026-11-20T08:30:00+08:00"
    head = world.call("GET", f"/v1/batches/{batch['id']}", world.coop).json()["head"]
    assert isinstance(result["chain"]["leaf_index"], int)  # the head's leaf in the log
    assert result["chain"] == {
        "length": 5,
        "head_hash": head["hash"],
        "intact": True,
        "leaf_index": result["chain"]["leaf_index"],
        # No checkpoint published yet (tests/test_verify_log_proof.py publishes one).
        "tree_size": None,
        "inclusion_proof": None,
        "checkpoint": None,
    }
    assert result["scans"]["count"] == 1  # one phone
    assert result["scans"]["first_at"] is not None
    assert result["scans"]["first_by_you"] is True
    assert result["scans"]["threshold"] == get_settings().scan_alert_threshold


def test_json_by_query_and_html_by_default(world: World, labels: tuple) -> None:
    _, _, urls = labels
    by_query = world.client.get(path_of(urls[0]) + "&format=json")
    assert by_query.headers["content-type"] == "application/json"
    assert by_query.json()["verdict"] == "genuine"
    assert "no-store" in by_query.headers["cache-control"]
    for url in (urls[0], flip_signature_bit(urls[0]), "/01/123/10/x/21/y"):
        page = world.client.get(path_of(url), headers={"Accept": "text/html,*/*"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(flip_signature_bit, id="signature"),
        pytest.param(lambda url: with_parts(url, gtin=OTHER_GTIN), id="gtin"),
        pytest.param(lambda url: with_parts(url, lot="OTHER-LOT"), id="lot"),
        pytest.param(lambda url: with_parts(url, serial="00000002"), id="serial"),
    ],
)
def test_tampered_codes_have_a_bad_signature(world: World, labels: tuple, tamper) -> None:  # type: ignore[no-untyped-def]
    _, _, urls = labels
    result = verify(world, tamper(urls[0]))
    assert result["verdict"] == "invalid"
    assert reason_codes(result) == ["bad_signature"]
    assert (result["brand"], result["batch"], result["timeline"]) == (None, None, [])


def test_a_reload_and_the_language_link_are_not_verified_again(world: World, labels: tuple) -> None:
    _, _, urls = labels

    def metric(name: str) -> str:
        lines = world.client.get("/metrics").text.splitlines()
        return next(x for x in lines if x.startswith(f"{name} ")).split()[1]

    phone_1 = phone(1)
    for url in (urls[0], urls[0], f"{urls[0]}&lang=en"):  # a scan, a reload, the language link
        assert verify(world, url, device=phone_1)["verdict"] == "genuine"
    assert metric("scan_signatures_total") == "3"
    assert metric("scan_signatures_remembered_total") == "2"
    # The same signature on another serial was never verified: it is checked, and refused.
    result = verify(world, with_parts(urls[0], serial="00000002"), device=phone_1)
    assert reason_codes(result) == ["bad_signature"]
    assert metric("scan_signatures_total") == "4"
    assert metric("scan_signatures_remembered_total") == "2"


def test_an_unknown_key_id_is_invalid(world: World, labels: tuple) -> None:
    _, run, urls = labels
    other = bytes.fromhex("0000" if run["key_id"] != "0000" else "0001")
    result = verify(world, with_key_id(urls[0], other))
    assert (result["verdict"], reason_codes(result)) == ("invalid", ["unknown_key"])


def test_a_revoked_key_makes_its_labels_invalid_at_once(world: World, labels: tuple) -> None:
    _, run, urls = labels
    assert verify(world, urls[0])["verdict"] == "genuine"
    with unit_of_work(world.engine, write=True) as session:
        service.revoke_key(session, key_id=run["key_id"])
    result = verify(world, urls[0])
    assert (result["verdict"], reason_codes(result)) == ("invalid", ["revoked_key"])


def test_serials_never_issued_and_unknown_batches_are_invalid(world: World, labels: tuple) -> None:
    batch, _, _ = labels
    for serial in ("00000006", "00000000", "ABC", "1"):
        result = verify(world, signed_url(world.engine, GTIN, batch["lot"], serial))
        assert (result["verdict"], reason_codes(result)) == ("invalid", ["unknown_serial"]), serial
    result = verify(world, signed_url(world.engine, GTIN, "NO-SUCH-LOT", "00000001"))
    assert (result["verdict"], reason_codes(result)) == ("invalid", ["unknown_batch"])
    result = verify(world, signed_url(world.engine, OTHER_GTIN, batch["lot"], "00000001"))
    assert (result["verdict"], reason_codes(result)) == ("invalid", ["unknown_batch"])


def test_a_serial_issued_under_another_key_is_invalid(world: World, labels: tuple) -> None:
    batch, _, _ = labels
    with unit_of_work(world.engine, write=True) as session:
        service.rotate_key(session, passphrase=get_settings().key_passphrase)
    # Serial 1 was issued under the old key; the same serial signed by the new key was not.
    result = verify(world, signed_url(world.engine, GTIN, batch["lot"], "00000001"))
    assert (result["verdict"], reason_codes(result)) == ("invalid", ["unknown_serial"])


@pytest.mark.parametrize(
    "path",
    [
        "/01/06901234567892/10/LOT-1/21/00000001",
        "/01/06901234567892/10/LOT-1/21/00000001?8030=",
        "/01/06901234567892/10/LOT-1/21/00000001?8030=abc",
        "/01/06901234567892/10/LOT-1/21/00000001?8030=" + "!" * 88,
        "/01/06901234567893/10/LOT-1/21/00000001?8030=" + "A" * 88,
        "/01/0690123456789X/10/LOT-1/21/00000001?8030=" + "A" * 88,
        "/01/06901234567892/10/" + "L" * 21 + "/21/1?8030=" + "A" * 88,
        "/01/06901234567892/10/LOT%zz/21/1?8030=" + "A" * 88,
        "/01/06901234567892/10/%C3%A9/21/1?8030=" + "A" * 88,
        "/01/06901234567892/10/%FF/21/1?8030=" + "A" * 88,
        "/01/06901234567892",
        "/01/",
        "/01/x/10/y/21/z/extra?8030=" + "A" * 88,
        "/01/06901234567892/10/LOT-1/21/1?8030=" + "A" * 88 + "&8030=" + "A" * 88,
        "/01/06901234567892/10/LOT-1/21/1?8030=" + "A" * 5000,
    ],
)
def test_malformed_codes_are_invalid_not_errors(world: World, path: str) -> None:
    result = verify(world, path)
    assert result["verdict"] == "invalid"
    assert reason_codes(result) == ["malformed_code"]
    assert result["code"] is None


def test_lots_with_reserved_characters_verify(world: World) -> None:
    _, run = labeled_batch(world, units=10, count=1, lot="RJ/26&%?")
    (url,) = label_codes(world, run["run_id"])
    assert "/10/RJ%2F26%26%25%3F/21/" in url
    assert verify(world, url)["verdict"] == "genuine"


def test_rotation_keeps_old_labels_genuine_and_new_labels_use_the_new_key(
    world: World, labels: tuple
) -> None:
    batch, run, old_urls = labels
    with unit_of_work(world.engine, write=True) as session:
        new_key = service.rotate_key(session, passphrase=get_settings().key_passphrase).key_id
    assert new_key != run["key_id"]
    r = world.call("POST", f"/v1/batches/{batch['id']}/labels", world.coop, json={"count": 2})
    assert r.status_code == 201
    assert r.json()["key_id"] == new_key
    new_urls = label_codes(world, r.json()["run_id"])
    for url in (old_urls[1], *new_urls):
        assert verify(world, url)["verdict"] == "genuine", url
    assert verify(world, new_urls[0])["code"]["key_id"] == new_key
    assert verify(world, old_urls[1])["code"]["key_id"] == run["key_id"]


def test_a_recalled_batch_answers_recalled(world: World, labels: tuple) -> None:
    batch, _, urls = labels
    world.ok(batch["id"], world.owner, recalled())
    result = verify(world, urls[0])
    assert (result["verdict"], reason_codes(result)) == ("recalled", ["batch_recalled"])
    assert result["batch"]["status"] == "recalled"
    assert max(result["timeline"], key=lambda e: e["seq"])["type"] == "recalled"


def test_a_suspended_brand_is_suspicious(world: World, labels: tuple) -> None:
    _, _, urls = labels
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"status": "suspended"})
    assert r.status_code == 200, r.text
    result = verify(world, urls[0])
    assert (result["verdict"], reason_codes(result)) == ("suspicious", ["brand_suspended"])


def test_a_revoked_license_is_suspicious(world: World, labels: tuple) -> None:
    _, _, urls = labels
    licenses = world.call("GET", f"/v1/brands/{BRAND}/licenses", world.owner).json()
    coop_license = next(lic for lic in licenses if lic["org_id"] == world.coop.id)
    r = world.call("POST", f"/v1/brands/{BRAND}/licenses/{coop_license['id']}/revoke", world.owner)
    assert r.status_code == 200, r.text
    result = verify(world, urls[0])
    assert (result["verdict"], reason_codes(result)) == ("suspicious", ["license_revoked"])


def test_an_expired_license_is_suspicious(world: World, labels: tuple) -> None:
    _, _, urls = labels
    with world.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE licenses SET valid_to = %s"
            if world.engine.dialect.name == "postgresql"
            else "UPDATE licenses SET valid_to = ?",
            (date(2020, 12, 31),),
        )
    assert reason_codes(verify(world, urls[0])) == ["license_revoked"]


def test_a_tampered_chain_is_suspicious(world: World, labels: tuple) -> None:
    batch, _, urls = labels
    events = world.call("GET", f"/v1/batches/{batch['id']}/events", world.coop).json()["items"]
    harvest = events[1]["data"]
    tamper_event_data(world.engine, batch["id"], 1, json.dumps({**harvest, "quantity": 50000}))
    result = verify(world, urls[0])
    assert (result["verdict"], reason_codes(result)) == ("suspicious", ["chain_broken"])
    assert "event 1" in result["reasons"][0]["message"]
    assert result["chain"]["intact"] is False


def test_recall_and_suspicion_reasons_are_all_named(world: World, labels: tuple) -> None:
    batch, _, urls = labels
    world.ok(batch["id"], world.owner, recalled())
    world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"status": "suspended"})
    result = verify(world, urls[0])
    assert result["verdict"] == "recalled"
    assert reason_codes(result) == ["batch_recalled", "brand_suspended"]


def test_phones_over_the_brand_threshold_are_suspicious(world: World, labels: tuple) -> None:
    _, _, urls = labels
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"scan_alert_threshold": 2})
    assert r.status_code == 200, r.text
    first = verify(world, urls[0], device=phone(1))
    assert (first["verdict"], first["scans"]["count"], first["scans"]["first_by_you"]) == (
        "genuine",
        1,
        True,
    )
    assert first["scans"]["threshold"] == 2
    for _ in range(5):  # reloads and language switches of one phone never count again
        assert verify(world, urls[0], device=phone(1))["scans"]["count"] == 1
    second = verify(world, urls[0], device=phone(2))
    assert (second["verdict"], second["scans"]["count"]) == ("genuine", 2)
    assert second["scans"]["first_at"] == first["scans"]["first_at"]
    assert second["scans"]["first_by_you"] is False
    third = verify(world, urls[0], device=phone(3))  # counted before the answer
    assert (third["verdict"], reason_codes(third)) == ("suspicious", ["scan_threshold_exceeded"])
    assert third["scans"]["count"] == 3
    assert third["scans"]["flagged_at"] is not None
    assert "3 different phones" in third["reasons"][0]["message"]
    # Flagged for every other phone, with the evidence; the first phone keeps its answer.
    again = verify(world, urls[0], device=phone(2))
    assert (again["verdict"], reason_codes(again)) == ("suspicious", ["scan_threshold_exceeded"])
    assert "first scanned" in again["reasons"][0]["message"]
    assert verify(world, urls[0], device=phone(1))["verdict"] == "genuine"
    assert verify(world, urls[1], device=phone(3))["verdict"] == "genuine"  # counted per code


def test_the_default_scan_threshold_applies_without_a_brand_threshold(
    world: World, labels: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, urls = labels
    verifier = world.client.app.state.verifier  # type: ignore[attr-defined]
    monkeypatch.setattr(verifier, "rules", replace(verifier.rules, default_threshold=1))
    assert verify(world, urls[2], device=phone(1))["verdict"] == "genuine"
    assert verify(world, urls[2], device=phone(1))["verdict"] == "genuine"
    assert reason_codes(verify(world, urls[2], device=phone(2))) == ["scan_threshold_exceeded"]
