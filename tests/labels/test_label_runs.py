"""Label runs over HTTP: issue under mass balance, list codes, QR images, who may do what."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from registry.codes.digital_link import parse_url
from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.labels.service import revoke_key
from tests.factories import (
    BRAND,
    GTIN,
    World,
    harvested,
    issue_labels,
    label_codes,
    labeled_batch,
    packed,
    recalled,
)
from tests.labels.test_qr import rasterize_svg

KINDS = ["admin", "owner", "owner2", "coop", "coop2", "handler", "regulator", "platform"]


def decode_qr(image: Image.Image) -> str:
    found = zxingcpp.read_barcodes(
        image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    assert len(found) == 1
    assert found[0].ec_level == "M"
    return str(found[0].text)


def test_run_is_issued_recorded_in_the_chain_and_continues_serials(world: World) -> None:
    batch, run = labeled_batch(world, units=100, count=20, ship=False)
    assert run["first_serial"] == "00000001"
    assert run["last_serial"] == "00000020"
    assert run["count"] == 20
    assert len(run["key_id"]) == 4

    events = world.call("GET", f"/v1/batches/{batch['id']}/events", world.coop).json()
    labeled = events[-1]
    assert labeled["type"] == "labeled"
    assert labeled["data"] == {
        "run_id": run["run_id"],
        "first_serial": "00000001",
        "last_serial": "00000020",
        "count": 20,
        "key_id": run["key_id"],
    }
    audit = world.call("GET", f"/v1/batches/{batch['id']}/audit", world.coop).json()
    assert audit["intact"] is True

    second = issue_labels(world, batch["id"], 5)
    assert second.status_code == 201, second.text
    assert (second.json()["first_serial"], second.json()["last_serial"]) == ("00000021", "00000025")
    assert second.json()["key_id"] == run["key_id"]  # the key made on first use is reused


def test_over_issue_is_refused_with_the_numbers(world: World) -> None:
    batch, _ = labeled_batch(world, units=10, count=8)
    r = issue_labels(world, batch["id"], 3)
    assert r.status_code == 409
    assert r.json()["error"] == "MassBalanceExceeded"
    assert "3 labels requested" in r.json()["detail"]
    assert "10 units are packed" in r.json()["detail"]
    assert "8 labels already issued" in r.json()["detail"]
    assert issue_labels(world, batch["id"], 2).status_code == 201


def test_batch_without_packed_units_or_gtin_is_refused(world: World) -> None:
    unpacked = world.new_batch()
    world.ok(unpacked["id"], world.coop, harvested())
    r = issue_labels(world, unpacked["id"], 1)
    assert r.status_code == 409
    assert "0 units are packed" in r.json()["detail"]

    no_gtin = world.new_batch(gtin=None)
    world.ok(no_gtin["id"], world.coop, harvested())
    world.ok(no_gtin["id"], world.coop, packed(units=10))
    r = issue_labels(world, no_gtin["id"], 1)
    assert r.status_code == 422
    assert r.json()["error"] == "BatchHasNoGtin"


@pytest.mark.parametrize(
    "body", [{"count": 0}, {"count": -1}, {"count": "x"}, {}, {"count": 10**7}]
)
def test_bad_counts_are_validation_errors(world: World, body: dict[str, Any]) -> None:
    batch = world.new_batch()
    r = world.call("POST", f"/v1/batches/{batch['id']}/labels", world.coop, json=body)
    assert r.status_code == 422


def test_recalled_batch_and_unknown_batch_get_no_labels(world: World) -> None:
    batch = world.new_batch()
    world.ok(batch["id"], world.coop, harvested())
    world.ok(batch["id"], world.coop, packed(units=10))
    world.ok(batch["id"], world.owner, recalled())
    assert issue_labels(world, batch["id"], 1).status_code == 409
    assert issue_labels(world, "no-such-batch", 1).status_code == 404


def test_codes_are_signed_urls_in_serial_order_as_json_or_csv(world: World) -> None:
    batch, run = labeled_batch(world, units=50, count=30)
    path = f"/v1/labels/runs/{run['run_id']}/codes"
    r = world.call("GET", path, world.coop, params={"limit": 10, "offset": 5})
    assert r.status_code == 200
    assert r.headers["x-total-count"] == "30"
    page = r.json()
    assert [c["serial"] for c in page] == [f"{n:08d}" for n in range(6, 16)]
    public = get_settings().public_url
    for code in page:
        assert code["url"].startswith(f"{public}/01/{GTIN}/10/{batch['lot']}/21/{code['serial']}?")
        parsed = parse_url(code["url"])
        assert (parsed.serial, parsed.key_id.hex()) == (code["serial"], run["key_id"])

    tail = world.call("GET", path, world.coop, params={"offset": 28}).json()
    assert [c["serial"] for c in tail] == ["00000029", "00000030"]
    assert world.call("GET", path, world.coop, params={"offset": 30}).json() == []

    as_csv = world.call("GET", path, world.coop, params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["serial", "url"]
    assert len(rows) == 31
    by_accept = world.call("GET", path, world.coop, headers={"Accept": "text/csv"})
    assert by_accept.text == as_csv.text
    assert rows[1:] == [[c["serial"], c["url"]] for c in world.call("GET", path, world.coop).json()]

    for params in ({"limit": 10_001}, {"limit": 0}, {"offset": -1}, {"format": "xml"}):
        assert world.call("GET", path, world.coop, params=params).status_code == 422


def test_qr_images_decode_to_the_label_url(world: World) -> None:
    _, run = labeled_batch(world, units=10, count=3)
    urls = label_codes(world, run["run_id"])
    base = f"/v1/labels/runs/{run['run_id']}/qr"
    png = world.call("GET", f"{base}/00000002.png", world.coop)
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert decode_qr(Image.open(io.BytesIO(png.content))) == urls[1]

    svg = world.call("GET", f"{base}/00000003.svg", world.coop)
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert decode_qr(rasterize_svg(svg.content)) == urls[2]


@pytest.mark.parametrize("serial", ["00000000", "00000004", "1", "000000001", "abc", "0000000%21"])
def test_qr_of_a_serial_outside_the_run_is_404(world: World, serial: str) -> None:
    _, run = labeled_batch(world, units=10, count=3)
    r = world.call("GET", f"/v1/labels/runs/{run['run_id']}/qr/{serial}.png", world.coop)
    assert r.status_code == 404
    assert r.json()["error"] == "SerialNotInRun"


def test_unknown_run_is_404(world: World) -> None:
    for path in ("/v1/labels/runs/nope/codes", "/v1/labels/runs/nope/qr/00000001.svg"):
        r = world.call("GET", path, world.admin)
        assert r.status_code == 404
        assert r.json()["error"] == "LabelRunNotFound"


def test_issuing_labels_is_for_the_batch_cooperative_only(world: World) -> None:
    batch = world.new_batch()
    world.ok(batch["id"], world.coop, harvested())
    world.ok(batch["id"], world.coop, packed(units=100))
    path = f"/v1/batches/{batch['id']}/labels"
    assert world.call("POST", path, json={"count": 1}).status_code == 401
    for kind in KINDS:
        r = world.call("POST", path, world.orgs[kind], json={"count": 1})
        assert r.status_code == (201 if kind == "coop" else 403), (kind, r.text)


@pytest.mark.parametrize(
    "suffix", ["codes", "codes?format=csv", "qr/00000001.png", "qr/00000001.svg"]
)
def test_reading_a_run_is_for_its_cooperative_brand_owner_regulators_and_admin(
    world: World, suffix: str
) -> None:
    _, run = labeled_batch(world, units=10, count=2)
    path = f"/v1/labels/runs/{run['run_id']}/{suffix}"
    assert world.call("GET", path).status_code == 401
    readers = {"admin", "owner", "coop", "regulator"}
    for kind in KINDS:
        r = world.call("GET", path, world.orgs[kind])
        assert r.status_code == (200 if kind in readers else 403), (kind, r.text)


def test_no_labels_under_a_suspended_brand(world: World) -> None:
    batch = world.new_batch()
    world.ok(batch["id"], world.coop, harvested())
    world.ok(batch["id"], world.coop, packed(units=10))
    path = f"/v1/brands/{BRAND}"
    world.call("PATCH", path, world.owner, json={"status": "suspended"})
    r = issue_labels(world, batch["id"], 1)
    assert r.status_code == 403
    assert "suspended" in r.json()["detail"]
    world.call("PATCH", path, world.owner, json={"status": "active"})
    assert issue_labels(world, batch["id"], 1).status_code == 201


def test_no_labels_when_another_batch_has_the_same_gtin_and_lot(world: World) -> None:
    """Codes carry only GTIN, lot and serial: two such batches could not be told apart."""
    r = world.call(
        "POST",
        "/v1/brands",
        world.owner2,
        json={"slug": "other", "name": "Other", "category": "rice", "county_codes": ["522601"]},
    )
    assert r.status_code == 201, r.text
    license_body = {
        "org_id": world.coop.id,
        "valid_from": "2020-01-01",
        "valid_to": "2099-12-31",
        "annual_quota_kg": 1e6,
    }
    world.call("POST", "/v1/brands/other/licenses", world.owner2, json=license_body)
    first = world.new_batch()
    twin = world.new_batch(brand="other", lot=first["lot"])
    world.ok(twin["id"], world.coop, harvested(county="522601"))
    world.ok(twin["id"], world.coop, packed(units=10))
    r = issue_labels(world, twin["id"], 1)
    assert r.status_code == 409
    assert r.json()["error"] == "AmbiguousLabelCode"


def test_codes_of_a_revoked_key_are_not_served(world: World) -> None:
    _, run = labeled_batch(world, units=10, count=2)
    with unit_of_work(world.engine, write=True) as session:
        revoke_key(session, key_id=run["key_id"])
    for suffix in ("codes", "qr/00000001.png"):
        r = world.call("GET", f"/v1/labels/runs/{run['run_id']}/{suffix}", world.coop)
        assert r.status_code == 409
        assert r.json()["error"] == "KeyRevoked"
