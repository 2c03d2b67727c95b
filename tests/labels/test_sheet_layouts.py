"""Label sheet layouts print GS1-size QR codes: every layout renders at 300 dpi and an
independent decoder (zxing-cpp) reads every code on the page, each module measured at
>= 0.396 mm; the API states each layout's sizes; a run that does not fit is refused."""

from __future__ import annotations

import base64
import math
import secrets
from pathlib import Path

import pypdfium2
import pytest
import qrcode
import qrcode.constants
import qrcode.exceptions
import zxingcpp

from registry.codes.digital_link import build_url
from registry.core.config import get_settings
from registry.labels.sheets import (
    EDGE_MM,
    LAYOUTS,
    MIN_MODULE_MM,
    QR_BYTES_AT_M,
    SheetLabel,
    SheetLayout,
    render_sheet,
    symbol_modules,
)
from tests.dbtools import snapshot
from tests.factories import GTIN, World, labeled_batch

DPI = 300
MM_PER_PX = 25.4 / DPI


def _fits_version(length: int, version: int) -> bool:
    code = qrcode.QRCode(version=version, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data("a" * length, optimize=0)
    try:
        code.make(fit=False)
    except (qrcode.exceptions.DataOverflowError, ValueError):
        return False
    return True


@pytest.mark.parametrize("version", sorted(QR_BYTES_AT_M))
def test_capacity_table_is_the_encoder_s(version: int) -> None:
    assert _fits_version(QR_BYTES_AT_M[version], version)
    assert not _fits_version(QR_BYTES_AT_M[version] + 1, version)


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=lambda layout: layout.name)
def test_layout_geometry(layout: SheetLayout) -> None:
    _, height = layout.label_mm
    assert layout.module_mm >= MIN_MODULE_MM
    assert layout.code_mm + 2 * EDGE_MM <= height + 0.05, "the code is taller than the label"
    assert layout.text_width > 0
    # The labels tile the page inside its margins.
    right = layout.origin(layout.cols - 1)[0] + layout.cell[0]
    assert math.isclose(right, layout.page[0] - layout.margin_x)
    # Every signed URL of this registry's shape with a 30-character origin and a 13-character
    # lot fits every layout (`max_url_length` leaves room for longer origins and lots).
    url = build_url("https://registry.example.org.cn", GTIN, "RJ2026-1120-A", "00000001", "A" * 88)
    assert len(url) <= layout.max_url_length


def _page_of_labels(layout: SheetLayout) -> list[SheetLabel]:
    """One full page of labels whose URLs are as long as the layout allows (the largest QR
    version it holds), each with its own random 88-character DIGSIG."""
    labels = []
    for n in range(1, layout.per_page + 1):
        digsig = base64.urlsafe_b64encode(secrets.token_bytes(66)).decode()
        serial = f"{n:08d}"
        short = build_url("https://registry.example.cn", GTIN, "RJ2026-1120-A", serial, digsig)
        prefix = "x" * (layout.max_url_length - len(short) - 1)
        url = build_url(
            f"https://registry.example.cn/{prefix}", GTIN, "RJ2026-1120-A", serial, digsig
        )
        assert len(url) == layout.max_url_length
        labels.append(SheetLabel(url=url, gtin=GTIN, lot="RJ2026-1120-A", serial=serial))
    return labels


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=lambda layout: layout.name)
def test_every_code_on_a_page_decodes_at_300_dpi(layout: SheetLayout, tmp_path: Path) -> None:
    labels = _page_of_labels(layout)
    pdf = tmp_path / f"{layout.name}.pdf"
    assert render_sheet(pdf, layout=layout, labels=labels, title=layout.name) == layout.per_page

    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        assert (round(page.get_width()), round(page.get_height())) == tuple(map(round, layout.page))
        image = page.render(scale=DPI / 72, grayscale=True).to_pil()
    finally:
        document.close()
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert sorted(code.text for code in codes) == sorted(label.url for label in labels)
    for code in codes:
        assert code.ec_level == "M"
        assert int(code.extra["Version"]) == layout.max_version
        top_left, top_right = code.position.top_left, code.position.top_right
        width_px = math.dist((top_left.x, top_left.y), (top_right.x, top_right.y))
        module_mm = width_px / symbol_modules(layout.max_version) * MM_PER_PX
        assert module_mm >= MIN_MODULE_MM
        assert module_mm == pytest.approx(layout.module_mm, rel=0.04)


def test_layouts_endpoint_states_each_layout_s_sizes(world: World) -> None:
    for caller in (None, world.admin, world.owner, world.coop, world.handler, world.regulator,
                   world.platform):  # fmt: skip
        r = world.call("GET", "/v1/labels/layouts", caller)
        assert r.status_code == 200, r.text
    bad_key = world.call(
        "GET", "/v1/labels/layouts", headers={"Authorization": "Bearer ork_not-a-key"}
    )
    assert bad_key.status_code == 200
    body = r.json()
    assert body["min_module_mm"] == 0.396
    by_name = {layout["name"]: layout for layout in body["layouts"]}
    assert set(by_name) == set(LAYOUTS)
    a4 = by_name["a4-4x10"]
    assert a4 == {
        "name": "a4-4x10",
        "description": "A4, 40 labels of 52.5 x 29.7 mm",
        "page": "A4",
        "columns": 4,
        "rows": 10,
        "labels_per_page": 40,
        "label_mm": [52.5, 29.7],
        "module_mm": 0.44,
        "max_qr_version": 10,
        "code_mm": 28.6,
        "symbol_mm": 25.08,
        "max_url_length": 213,
    }
    assert all(layout["module_mm"] >= 0.396 for layout in body["layouts"])


def test_a_run_that_does_not_fit_its_layout_is_refused_with_the_reason(world: World) -> None:
    # '%' is written %25 in the URL: 20 of them make a URL of 128 + 60 characters plus the
    # origin, beyond what letter-3x10's version 9 codes hold; and "(10) %%%..." is too wide
    # to print beside the code on the narrower labels.
    _, run = labeled_batch(world, units=10, count=10, lot="%" * 20)
    path = f"/v1/labels/runs/{run['run_id']}/sheet"
    url_length = len(get_settings().public_url) + 188
    assert url_length > LAYOUTS["letter-3x10"].max_url_length
    before = snapshot(world.engine)
    r = world.call("POST", path, world.coop, json={"layout": "letter-3x10"})
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "LabelsDoNotFitLayout",
        "detail": f"label run {run['run_id']} does not fit: layout letter-3x10 holds QR codes "
        f"up to version 9 (180 characters at 0.4 mm per module); the label URL has "
        f"{url_length} characters; layouts that fit: a4-2x7",
    }
    narrow = world.call("POST", path, world.coop, json={"layout": "a4-4x10"})
    assert narrow.status_code == 422
    assert "does not fit beside the code at 5 pt" in narrow.json()["detail"]
    assert snapshot(world.engine) == before  # no job was created
    assert world.call("POST", path, world.coop, json={"layout": "a4-2x7"}).status_code == 202


def test_a_withdrawn_layout_is_refused_with_why(world: World) -> None:
    _, run = labeled_batch(world, units=10, count=10)
    r = world.call(
        "POST", f"/v1/labels/runs/{run['run_id']}/sheet", world.coop, json={"layout": "a4-5x13"}
    )
    assert r.status_code == 422
    assert r.json()["error"] == "ValidationError"
    assert "a4-5x13 was withdrawn" in r.json()["detail"]
    assert "use a4-4x10" in r.json()["detail"]


def test_the_docs_state_each_layout_s_sizes() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "labels-and-verification.md").read_text()
    for layout in LAYOUTS.values():
        width, height = layout.label_mm
        row = (
            f"| `{layout.name}` | {layout.page_name} | {layout.cols} x {layout.rows} "
            f"({layout.per_page}) | {width:g} x {height:g} | {layout.module_mm:.2f} | "
            f"{layout.max_version} | {layout.symbol_mm:g} | {layout.code_mm:g} | "
            f"{layout.max_url_length} |"
        )
        assert row in doc, row
