"""Label sheet layouts as the API states them, and the check that a run's labels fit the
layout a sheet asks for (before a job is queued, so a refusal names its reason at once)."""

from __future__ import annotations

from pydantic import BaseModel

from registry.batches.models import Batch
from registry.codes.digital_link import build_url
from registry.labels.exceptions import LabelsDoNotFitLayout
from registry.labels.models import LabelRun, format_serial
from registry.labels.sheets import (
    LAYOUTS,
    MIN_MODULE_MM,
    LabelDoesNotFit,
    SheetLabel,
    SheetLayout,
    check_fits,
)

# A DIGSIG is always 88 characters; a sheet's QR codes are one byte-mode segment, so a
# URL's QR version depends on its length only and a placeholder signature sizes it exactly.
PLACEHOLDER_DIGSIG = "A" * 88


class SheetLayoutPublic(BaseModel):
    name: str
    description: str
    page: str
    columns: int
    rows: int
    labels_per_page: int
    label_mm: tuple[float, float]
    module_mm: float
    max_qr_version: int
    code_mm: float
    symbol_mm: float
    max_url_length: int

    @classmethod
    def build(cls, layout: SheetLayout) -> SheetLayoutPublic:
        return cls(
            name=layout.name,
            description=layout.description,
            page=layout.page_name,
            columns=layout.cols,
            rows=layout.rows,
            labels_per_page=layout.per_page,
            label_mm=layout.label_mm,
            module_mm=layout.module_mm,
            max_qr_version=layout.max_version,
            code_mm=layout.code_mm,
            symbol_mm=layout.symbol_mm,
            max_url_length=layout.max_url_length,
        )


class SheetLayoutsPublic(BaseModel):
    min_module_mm: float
    layouts: list[SheetLayoutPublic]


def public_layouts() -> SheetLayoutsPublic:
    return SheetLayoutsPublic(
        min_module_mm=MIN_MODULE_MM,
        layouts=[SheetLayoutPublic.build(layout) for layout in LAYOUTS.values()],
    )


def check_run_fits(run: LabelRun, batch: Batch, *, layout: str, base_url: str) -> None:
    """Raise LabelsDoNotFitLayout (422) if the run's labels, as this registry writes their
    URLs, do not fit `layout`. Every label of a run has a URL of the same length (serials
    have a fixed width), so the run's last label stands for all of them."""
    serial = format_serial(run.last_serial)
    gtin = batch.gtin or ""
    label = SheetLabel(
        url=build_url(base_url, gtin, batch.lot, serial, PLACEHOLDER_DIGSIG),
        gtin=gtin,
        lot=batch.lot,
        serial=serial,
    )
    try:
        check_fits(LAYOUTS[layout], label)
    except LabelDoesNotFit as exc:
        fitting = [
            name for name, other in LAYOUTS.items() if _fits(other, label) and name != layout
        ]
        hint = f"; layouts that fit: {', '.join(fitting)}" if fitting else ""
        raise LabelsDoNotFitLayout(f"label run {run.id} does not fit: {exc}{hint}") from None


def _fits(layout: SheetLayout, label: SheetLabel) -> bool:
    try:
        check_fits(layout, label)
    except LabelDoesNotFit:
        return False
    return True
