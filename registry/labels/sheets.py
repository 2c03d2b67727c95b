"""Printable label sheets: a PDF of QR codes in a grid of labels, each code with the GS1
human-readable text (AI 01, 10, 21) beside it. Pure rendering: no database, no web framework.

Print size: GS1's General Specifications ask for an X-dimension (module size) of at least
0.396 mm for QR codes scanned at retail. Every layout fixes its module size at or above that
and the largest QR version its labels hold; a label whose URL needs a larger version, or
whose text does not fit beside the code, is refused (`check_fits`) rather than shrunk.

Each QR symbol is embedded as a grayscale image with one pixel per module, drawn scaled
with interpolation off, so modules print as sharp squares and a sheet costs a few hundred
bytes per label. Error correction is level M and the data is one byte-mode segment, so a
URL's QR version depends on its length alone (`QR_BYTES_AT_M`).
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
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

# ISO/IEC 18004 lets an encoder use any of the 8 masks and every decoder reads all of them;
# scoring all 8 (what `qr.render_png` does) costs ~13 ms per symbol in pure Python, which
# would make a 10,000-label sheet take minutes. One fixed mask keeps it near 1 ms.
SHEET_MASK_PATTERN = 0
QUIET_ZONE = 4  # modules, the ISO/IEC 18004 minimum
FONT = "Helvetica"
MIN_MODULE_MM = 0.396  # GS1 General Specifications, QR Code X-dimension for retail scanning
EDGE_MM = 0.5  # the code's quiet zone starts this far inside the label's edge
GAP_MM = 1.0  # between the code and its text
MAX_FONT_PT, MIN_FONT_PT = 8.0, 5.0
# ISO/IEC 18004 table 7: bytes a QR symbol holds at error correction level M, per version.
QR_BYTES_AT_M = {
    1: 14, 2: 26, 3: 42, 4: 62, 5: 84, 6: 106, 7: 122, 8: 152, 9: 180, 10: 213,
    11: 251, 12: 287, 13: 331, 14: 362, 15: 412,
}  # fmt: skip


class LabelDoesNotFit(ValueError):
    """A label's QR code or text is too large for the layout; the message says why."""


def symbol_modules(version: int) -> int:
    """Modules across a QR symbol of `version`, without the quiet zone."""
    return 4 * version + 17


@dataclass(frozen=True)
class SheetLayout:
    """A sheet of `cols` x `rows` equal labels (points: page margins, gaps between labels);
    each QR module prints `module_mm` wide and a code may be up to version `max_version`."""

    name: str
    page_name: str
    page: tuple[float, float]
    cols: int
    rows: int
    margin_x: float
    margin_y: float
    module_mm: float
    max_version: int
    gap_x: float = 0.0
    gap_y: float = 0.0

    @property
    def per_page(self) -> int:
        return self.cols * self.rows

    @property
    def cell(self) -> tuple[float, float]:
        """One label's width and height in points."""
        width, height = self.page
        return (
            (width - 2 * self.margin_x - (self.cols - 1) * self.gap_x) / self.cols,
            (height - 2 * self.margin_y - (self.rows - 1) * self.gap_y) / self.rows,
        )

    def origin(self, slot: int) -> tuple[float, float]:
        """The top-left corner (points, PDF coordinates) of the label in `slot`."""
        col, row = slot % self.cols, slot // self.cols
        width, height = self.cell
        return (
            self.margin_x + col * (width + self.gap_x),
            self.page[1] - self.margin_y - row * (height + self.gap_y),
        )

    @property
    def label_mm(self) -> tuple[float, float]:
        width, height = self.cell
        return round(width / mm, 1), round(height / mm, 1)

    @property
    def description(self) -> str:
        width, height = self.label_mm
        return f"{self.page_name}, {self.per_page} labels of {width:g} x {height:g} mm"

    @property
    def code_mm(self) -> float:
        """The largest code's printed side, quiet zone included."""
        return round((symbol_modules(self.max_version) + 2 * QUIET_ZONE) * self.module_mm, 2)

    @property
    def symbol_mm(self) -> float:
        """The largest code's printed side without its quiet zone."""
        return round(symbol_modules(self.max_version) * self.module_mm, 2)

    @property
    def max_url_length(self) -> int:
        return QR_BYTES_AT_M[self.max_version]

    @property
    def text_width(self) -> float:
        """Points available for the human-readable text beside the largest code."""
        return self.cell[0] - float((2 * EDGE_MM + GAP_MM + self.code_mm) * mm)

    def pages_for(self, count: int) -> int:
        return max(1, math.ceil(count / self.per_page))


INCH = 72.0
LAYOUTS: dict[str, SheetLayout] = {
    layout.name: layout
    for layout in (
        # 99.1 x 38.1 mm (the L7163 size), 2.5 mm between columns.
        SheetLayout("a4-2x7", "A4", A4, 2, 7, 4.65 * mm, 15.15 * mm, 0.55, 10, gap_x=2.5 * mm),
        SheetLayout("a4-3x8", "A4", A4, 3, 8, 0, 0, 0.55, 10),  # 70 x 37.1 mm, edge to edge
        SheetLayout("a4-4x10", "A4", A4, 4, 10, 0, 0, 0.44, 10),  # 52.5 x 29.7 mm
        # 2.625 x 1 in (the Avery 5160 size), 0.125 in between columns.
        SheetLayout(
            "letter-3x10",
            "US Letter",
            LETTER,
            3,
            10,
            0.1875 * INCH,
            0.5 * INCH,
            0.40,
            9,
            gap_x=0.125 * INCH,
        ),
    )
}
# Layouts that once existed, with why they are gone (named in the refusal).
WITHDRAWN_LAYOUTS = {
    "a4-5x13": "its 38.1 x 21.2 mm labels hold at most a version 6 QR code (106 characters) "
    "at 0.396 mm per module, too small for a signed label URL; use a4-4x10",
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


def _text_size(layout: SheetLayout, lines: Iterable[str]) -> float | None:
    """The largest font size (points) at which every line fits beside the code, or None."""
    widest = max(stringWidth(line, FONT, 1.0) for line in lines)
    leading_room = layout.cell[1] - 2 * EDGE_MM * mm
    size = min(MAX_FONT_PT, layout.text_width / widest, leading_room / (3 * 1.2))
    return size if size >= MIN_FONT_PT else None


def check_fits(layout: SheetLayout, label: SheetLabel) -> None:
    """Raise LabelDoesNotFit, naming the numbers, if the label's code needs a larger QR
    version than the layout holds or its text does not fit beside the code at 5 pt."""
    if len(label.url) > layout.max_url_length:
        raise LabelDoesNotFit(
            f"layout {layout.name} holds QR codes up to version {layout.max_version} "
            f"({layout.max_url_length} characters at {layout.module_mm} mm per module); "
            f"the label URL has {len(label.url)} characters"
        )
    if _text_size(layout, label.text_lines) is None:
        raise LabelDoesNotFit(
            f"layout {layout.name}: the text {max(label.text_lines, key=len)!r} does not fit "
            f"beside the code at {MIN_FONT_PT:g} pt"
        )


def qr_image(url: str) -> Image.Image:
    """The QR symbol of `url` (level M, one byte-mode segment) with its quiet zone, one
    pixel per module."""
    if not url or not url.isascii() or not url.isprintable():
        raise ValueError(f"QR label URL must be non-empty printable ASCII, got {url!r}")
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=QUIET_ZONE,
        mask_pattern=SHEET_MASK_PATTERN,
    )
    code.add_data(url, optimize=0)
    code.make(fit=True)
    matrix = code.get_matrix()  # includes the border
    size = len(matrix)
    image = Image.new("L", (size, size))
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    return image


def _draw_label(canvas: Canvas, layout: SheetLayout, slot: int, label: SheetLabel) -> None:
    check_fits(layout, label)
    x0, top = layout.origin(slot)
    middle = top - layout.cell[1] / 2
    image = qr_image(label.url)
    side = image.width * layout.module_mm * mm
    left = x0 + EDGE_MM * mm
    canvas.drawImage(ImageReader(image), left, middle - side / 2, side, side)
    font_size = _text_size(layout, label.text_lines)
    assert font_size is not None  # check_fits passed
    leading = font_size * 1.2
    text_x = left + (layout.code_mm + GAP_MM) * mm
    baseline = middle + leading - font_size * 0.35
    canvas.setFont(FONT, font_size)
    for line in label.text_lines:
        canvas.drawString(text_x, baseline, line)
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
    iterable gives one empty page (a PDF has at least one). Raises LabelDoesNotFit for a
    label the layout cannot hold (`check_fits` it before asking for a sheet).
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
