"""QR code images of label URLs (PNG and standalone SVG), error correction level M.

The symbol encodes exactly the URL string given, so any independent decoder reads it back
unchanged.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.image.pil
import qrcode.image.svg


def render_png(url: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """A black-on-white PNG of the QR code for `url` (level M, smallest version that fits).

    `box_size` is pixels per module and `border` the quiet zone in modules (4 is the
    ISO/IEC 18004 minimum). Raises ValueError for a URL that is empty, not printable ASCII,
    or too long for any QR version.
    """
    if box_size < 1 or border < 0:
        raise ValueError(f"box_size must be >= 1 and border >= 0, got {box_size}, {border}")
    image = _make_qr(url, box_size=box_size, border=border).make_image(
        image_factory=qrcode.image.pil.PilImage, fill_color="black", back_color="white"
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def render_svg(url: str) -> bytes:
    """A standalone SVG document (XML declaration, white background, one path) for `url`.

    One module is one user unit (1 mm at the natural size), with a 4-module quiet zone; the
    image scales freely for print. Raises ValueError like `render_png`.
    """
    image = _make_qr(url, box_size=10, border=4).make_image(
        image_factory=qrcode.image.svg.SvgPathFillImage
    )
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def _make_qr(url: str, *, box_size: int, border: int) -> qrcode.QRCode:
    # Non-ASCII would be written as UTF-8 bytes without an ECI, which decoders may read as
    # Latin-1; label URLs are percent-encoded ASCII, so refuse anything else.
    if not url or not url.isascii() or not url.isprintable():
        raise ValueError(f"QR label URL must be non-empty printable ASCII, got {url!r}")
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border
    )
    qr.add_data(url)
    try:
        qr.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError) as exc:
        # qrcode reports overflow as DataOverflowError or, with fit=True, "Invalid version".
        raise ValueError(f"URL of {len(url)} characters does not fit in a QR code") from exc
    return qr
