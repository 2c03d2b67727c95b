"""Helpers for label sheet tests: wait for a job, read a sheet PDF back."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import pypdf
import zxingcpp
from PIL import Image

from tests.factories import Org, World, harvested, issue_labels, packed


def wait_for_job(
    world: World, job_id: str, org: Org, *, until: tuple[str, ...], timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = world.call("GET", f"/v1/jobs/{job_id}", org)
        assert r.status_code == 200, r.text
        job = dict(r.json())
        if job["state"] in until or time.monotonic() > deadline:
            assert job["state"] in until, job
            return job
        time.sleep(0.05)


@dataclass
class Sheet:
    pages: int
    urls: list[str]  # decoded from the QR images, page by page
    text: str


def read_sheet(pdf: bytes) -> Sheet:
    """Every QR image of the PDF decoded with an independent decoder (zxing-cpp), and the
    page text. Images hold one pixel per module: enlarged (nearest) before decoding."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    urls: list[str] = []
    text = []
    for page in reader.pages:
        text.append(page.extract_text())
        for found in page.images:
            image = found.image.convert("L")
            image = image.resize((image.width * 6, image.height * 6), Image.Resampling.NEAREST)
            codes = zxingcpp.read_barcodes(
                image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            )
            assert len(codes) == 1, f"an image on page {len(text)} does not decode"
            assert codes[0].ec_level == "M"
            urls.append(str(codes[0].text))
    return Sheet(pages=len(reader.pages), urls=urls, text="\n".join(text))


def labeled_run(world: World, count: int) -> dict[str, Any]:
    """A batch packed in `count` 1 kg units with one run of `count` labels."""
    batch = world.new_batch()
    world.ok(batch["id"], world.coop, harvested(kg=max(5000, count)))
    world.ok(batch["id"], world.coop, packed(units=count, unit_size=1))
    r = issue_labels(world, batch["id"], count)
    assert r.status_code == 201, r.text
    return dict(r.json())
