"""Printable label sheets: a PDF of QR codes in a grid of labels, with the GS1 human-readable
text (AI 01, 10, 21) under each code. Pure rendering: no database, no web framework.

Each QR symbol is embedded as a grayscale image with one pixel per module, drawn scaled
with interpolation off, so modules print as sharp squares at any size and a sheet costs a
few hundred bytes per label. Error correction is level M, as for every label (DESIGN).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import qrcode
import qrcode.constants
from PIL import Image
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

# ISO/IEC 18004 lets an encoder use any of the 8 masks and every decoder reads all of them;
# scoring all 8 (what `qr.render_png` does) costs ~13 ms per symbol in pure Python, which
# would make a 10,000-label sheet take minutes. One fixed mask keeps it near 1 ms.
SHEET_MASK_PATTERN = 0
QUIET_ZONE = 4  # modules, the ISO/IEC 18004 minimum
FONT = "Helvetica"


@dataclass(frozen=True)
class SheetLayout:
    """A sheet of `cols` x `rows` equal labels inside the page margins (points)."""

    name: str
    page: tuple[float, float]
    cols: int
    rows: int
    margin_x: float
    margin_y: float

    @property
    def per_page(self) -> int:
        return self.cols * self.rows

    @property
    def cell(self) -> tuple[float, float]:
        width, height = self.page
        return (width - 2 * self.margin_x) / self.cols, (height - 2 * self.margin_y) / self.rows

    def pages_for(self, count: int) -> int:
        return max(1, math.ceil(count / self.per_page))


LAYOUTS: dict[str, SheetLayout] = {
    layout.name: layout
    for layout in (
        SheetLayout("a4-2x7", A4, 2, 7, 4.65 * mm, 15.15 * mm),  # 99.1 x 38.1 mm labels
        SheetLayout("a4-3x8", A4, 3, 8, 0, 0),  # 70 x 37.1 mm, edge to edge
        SheetLayout("a4-4x10", A4, 4, 10, 0, 0),  # 52.5 x 29.7 mm, edge to edge
        SheetLayout("a4-5x13", A4, 5, 13, 4.75 * mm, 10.7 * mm),  # 38.1 x 21.2 mm
        SheetLayout("letter-3x10", LETTER, 3, 10, 4.8 * mm, 12.7 * mm),  # 2.6 x 1 in (5160)
    )
}


@dataclass(frozen=True)
class SheetLabel:
    url: str
    gtin: str
    lot: str
    serial: str

    @property
    def text_lines(self) -> tuple[str, str, str]:
        """The GS1 human-readable interpretation, one element string per line."""
        return (f"(01) {self.gtin}", f"(10) {self.lot}", f"(21) {self.serial}")


def qr_image(url: str) -> Image.Image:
    """The QR symbol of `url` (level M) with its quiet zone, one pixel per module."""
    if not url or not url.isascii() or not url.isprintable():
        raise ValueError(f"QR label URL must be non-empty printable ASCII, got {url!r}")
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=QUIET_ZONE,
        mask_pattern=SHEET_MASK_PATTERN,
    )
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()  # includes the border
    size = len(matrix)
    image = Image.new("L", (size, size))
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    return image


def _draw_label(canvas: Canvas, layout: SheetLayout, slot: int, label: SheetLabel) -> None:
    cell_w, cell_h = layout.cell
    col, row = slot % layout.cols, slot // layout.cols
    x0 = layout.margin_x + col * cell_w
    top = layout.page[1] - layout.margin_y - row * cell_h
    pad = min(cell_w, cell_h) * 0.06
    font_size = max(4.5, min(7.0, cell_h / 14))
    leading = font_size * 1.15
    text_h = 3 * leading
    side = max(10.0, min(cell_w - 2 * pad, cell_h - 2 * pad - text_h))
    qr_x = x0 + (cell_w - side) / 2
    qr_y = top - pad - side
    canvas.drawImage(ImageReader(qr_image(label.url)), qr_x, qr_y, side, side)
    canvas.setFont(FONT, font_size)
    baseline = qr_y - leading * 0.85
    for line in label.text_lines:
        canvas.drawCentredString(x0 + cell_w / 2, baseline, line)
        baseline -= leading


def render_sheet(
    path: Path,
    *,
    layout: SheetLayout,
    labels: Iterable[SheetLabel],
    title: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the labels to a PDF at `path`, `layout.per_page` to a page, in the order given.

    Calls `progress(done)` after each page. Returns the number of labels written; an empty
    iterable gives one empty page (a PDF has at least one).
    """
    canvas = Canvas(str(path), pagesize=layout.page, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("Origin Registry")
    done = 0
    for page in _pages(labels, layout.per_page):
        for slot, label in enumerate(page):
            _draw_label(canvas, layout, slot, label)
        done += len(page)
        canvas.showPage()
        if progress is not None:
            progress(done)
    canvas.save()
    return done


def _pages(labels: Iterable[SheetLabel], per_page: int) -> Iterator[list[SheetLabel]]:
    page: list[SheetLabel] = []
    for label in labels:
        page.append(label)
        if len(page) == per_page:
            yield page
            page = []
    if page:
        yield page
