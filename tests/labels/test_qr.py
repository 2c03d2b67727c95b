"""QR images of label URLs decode, with an independent decoder (zxing-cpp), to the exact URL."""

from __future__ import annotations

import io
import re
import string
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from registry.codes.digital_link import build_url, encode_digsig
from registry.core.identifiers import GS1_AI82
from registry.labels.qr import render_png, render_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
DIGSIG = encode_digsig(bytes.fromhex("a1b2"), bytes(range(64)))
URLS = [
    build_url("https://registry.example", "09506000134352", "RJ-2025/07", "000123", DIGSIG),
    build_url("http://127.0.0.1:8000", "96385074", "A%B?C&D", "x'(1)*+,:;<=>!\"", DIGSIG),
    build_url("https://origin.example.cn/p", "09506000134352", "L" * 20, "9" * 20, DIGSIG),
]
# The rasterizer below understands exactly the square sub-paths qrcode's SvgPathImage writes.
SUBPATH_RE = re.compile(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H([\d.]+)z")


def decode(image: Image.Image) -> zxingcpp.Barcode:
    """The single QR code zxing-cpp finds in `image`."""
    found = zxingcpp.read_barcodes(
        image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    assert len(found) == 1
    return found[0]


def rasterize_svg(svg: bytes, pixels_per_unit: int = 6) -> Image.Image:
    """Draw our standalone QR SVG (white rect + one path of squares) as a grayscale image."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    _, _, width, height = (Decimal(v) for v in root.attrib["viewBox"].split())
    image = Image.new("L", (int(width * pixels_per_unit), int(height * pixels_per_unit)), 0)
    draw = ImageDraw.Draw(image)
    background = root.find(f"{SVG_NS}rect")
    assert background is not None
    assert background.attrib["fill"] == "white"
    assert (background.attrib["width"], background.attrib["height"]) == ("100%", "100%")
    draw.rectangle((0, 0, image.width, image.height), fill=255)
    paths = root.findall(f"{SVG_NS}path")
    assert len(paths) == 1
    data = paths[0].attrib["d"]
    assert SUBPATH_RE.sub("", data) == ""  # nothing left that the rasterizer would ignore
    for x0, y0, x1, y1, x_back in SUBPATH_RE.findall(data):
        assert x_back == x0
        left, top = Decimal(x0) * pixels_per_unit, Decimal(y0) * pixels_per_unit
        right, bottom = Decimal(x1) * pixels_per_unit, Decimal(y1) * pixels_per_unit
        draw.rectangle((int(left), int(top), int(right) - 1, int(bottom) - 1), fill=0)
    return image


@pytest.mark.parametrize("url", URLS)
def test_png_decodes_to_the_exact_url_at_level_m(url: str) -> None:
    png = render_png(url)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    barcode = decode(Image.open(io.BytesIO(png)))
    assert barcode.text == url
    assert barcode.bytes == url.encode("ascii")
    assert barcode.ec_level == "M"


@pytest.mark.parametrize("url", URLS)
def test_svg_decodes_to_the_exact_url_at_level_m(url: str) -> None:
    svg = render_svg(url)
    assert svg.startswith(b"<?xml")
    barcode = decode(rasterize_svg(svg))
    assert barcode.text == url
    assert barcode.ec_level == "M"


def test_png_size_follows_box_size_and_border() -> None:
    url = URLS[0]
    default = Image.open(io.BytesIO(render_png(url)))
    modules = default.width // 8 - 2 * 4
    assert (modules - 17) % 4 == 0  # a real QR version: 21, 25, 29 … modules
    small = Image.open(io.BytesIO(render_png(url, box_size=3, border=6)))
    assert small.size == ((modules + 12) * 3, (modules + 12) * 3)
    assert decode(small).text == url


def test_svg_is_standalone_with_a_mm_size() -> None:
    root = ET.fromstring(render_svg(URLS[0]))
    _, _, width, _ = root.attrib["viewBox"].split()
    assert root.attrib["width"] == f"{width}mm"
    assert root.attrib["height"] == f"{width}mm"


@settings(database=None, max_examples=25, deadline=None)
@given(
    lot=st.text(alphabet=sorted(GS1_AI82), min_size=1, max_size=20),
    serial=st.text(alphabet=sorted(GS1_AI82), min_size=1, max_size=20),
    host=st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=30),
)
def test_any_label_url_round_trips_through_png_and_svg(lot: str, serial: str, host: str) -> None:
    url = build_url(f"https://{host}.example", "09506000134352", lot, serial, DIGSIG)
    assert decode(Image.open(io.BytesIO(render_png(url, box_size=4)))).text == url
    assert decode(rasterize_svg(render_svg(url), pixels_per_unit=4)).text == url


@pytest.mark.parametrize("url", ["", "https://h.example/01/批次", "https://h/\n", "x" * 3000])
def test_urls_that_cannot_round_trip_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="QR"):
        render_png(url)
    with pytest.raises(ValueError, match="QR"):
        render_svg(url)


@pytest.mark.parametrize(("box_size", "border"), [(0, 4), (8, -1)])
def test_png_refuses_nonsense_geometry(box_size: int, border: int) -> None:
    with pytest.raises(ValueError, match="box_size"):
        render_png(URLS[0], box_size=box_size, border=border)
