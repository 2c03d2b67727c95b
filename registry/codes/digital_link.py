"""GS1 Digital Link label codes: `https://{host}/01/{gtin}/10/{lot}/21/{serial}?8030={digsig}`.

Builds and parses the label URL, the signed GS1 element string and the AI 8030 value
(`key_id || Ed25519 signature`, base64url). Pure: no framework, database or crypto imports.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from registry.codes.errors import CodeFormatError
from registry.codes.gs1 import IdentifierError, check_gs1_text, normalize_gtin

KEY_ID_LENGTH = 2
SIGNATURE_LENGTH = 64
DIGSIG_LENGTH = 88  # base64url of 66 bytes; 66 is a multiple of 3, so never any padding
DIGSIG_AI = "8030"
# A printed label URL is ~300 characters; the cap bounds the work an arbitrary input causes.
MAX_URL_LENGTH = 2048

_DIGSIG_RE = re.compile(r"[A-Za-z0-9_-]{88}")
_BAD_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL_RE = re.compile(r"[\x00-\x20\x7f]")  # space, controls and DEL
# GS1 AI character set 82, 1-20 characters: the common case of check_gs1_text, tested first
# because bulk verification parses every code (check_gs1_text still words any refusal).
_AI82_RE = re.compile(r"[A-Za-z0-9!\"%&'()*+,\-./:;<=>?_]{1,20}")
_PATH_FORM = "/01/{gtin}/10/{lot}/21/{serial}"
_UNRESERVED_RE = re.compile(r"[A-Za-z0-9_.~-]*")  # what `quote` never escapes
# A label URL as printed (`build_url`): an optional scheme and host, an optional path
# prefix, lot and serial of unreserved characters only (nothing to decode), and AI 8030 as
# the only parameter. `parse_url` reads it without splitting and decoding the URL, with the
# same result (tests/verify/test_digital_link_edges.py holds the two ways equal).
_PRINTED = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.:-]*)?(?:/[^?#]*)?"
    r"/01/([0-9]{14})/10/([A-Za-z0-9._-]{1,20})/21/([A-Za-z0-9._-]{1,20})"
    r"\?8030=([A-Za-z0-9_-]{88})"
)


@dataclass(frozen=True)
class LabelCode:
    """One signed label: a valid GTIN-14, lot, serial, 2-byte key id and 64-byte signature.

    Construction validates every field (raising `CodeFormatError`), so an instance always
    holds a well-formed code; whether the signature verifies is `verify_label`'s question.
    """

    gtin: str
    lot: str
    serial: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.gtin) != 14 or _canonical_gtin(self.gtin) != self.gtin:
            raise CodeFormatError(
                "GTIN must be given in its 14-digit form", expected="14 digits", actual=self.gtin
            )
        _checked_text(self.lot, "lot")
        _checked_text(self.serial, "serial")
        _check_lengths(self.key_id, self.signature)

    @property
    def element_string(self) -> bytes:
        """The signed message: `01{gtin}10{lot}<GS>21{serial}` as ASCII bytes."""
        return _join_element_string(self.gtin, self.lot, self.serial)

    @property
    def digsig(self) -> str:
        """The AI 8030 value: base64url (no padding) of `key_id || signature`, 88 characters."""
        return encode_digsig(self.key_id, self.signature)

    def to_url(self, base_url: str) -> str:
        """This code's label URL under `base_url`, as `build_url` writes it (the parts were
        checked when the code was made; every verify answer carries it)."""
        return _url(_checked_base(base_url), self.gtin, self.lot, self.serial, self.digsig)


def element_string(gtin: str, lot: str, serial: str) -> bytes:
    """The GS1 element string `01{gtin14}10{lot}<GS>21{serial}` that a label signs.

    A GTIN-8/12/13 is padded to 14 digits first, so the message equals what a verifier
    rebuilds from any form of the same GTIN. Raises `CodeFormatError` for a bad GTIN check
    digit or a lot/serial outside 1-20 characters of GS1 set 82.
    """
    return _join_element_string(
        _canonical_gtin(gtin), _checked_text(lot, "lot"), _checked_text(serial, "serial")
    )


def encode_digsig(key_id: bytes, signature: bytes) -> str:
    """base64url without padding of `key_id (2 bytes) || signature (64 bytes)`: 88 characters.

    Raises `CodeFormatError` if either part has the wrong length.
    """
    _check_lengths(key_id, signature)
    return base64.urlsafe_b64encode(key_id + signature).decode("ascii")


def decode_digsig(text: str) -> tuple[bytes, bytes]:
    """Split an AI 8030 value into `(key_id, signature)` (2 and 64 bytes).

    Accepts exactly 88 base64url characters without padding; anything else (other
    characters, padding, another length) raises `CodeFormatError`.
    """
    if len(text) != DIGSIG_LENGTH:
        raise CodeFormatError(
            "AI 8030 value has the wrong length",
            expected=f"{DIGSIG_LENGTH} base64url characters",
            actual=f"{len(text)} characters",
        )
    if not _DIGSIG_RE.fullmatch(text):
        bad = "".join(sorted({c for c in text if not _is_base64url_char(c)}))
        raise CodeFormatError(
            "AI 8030 value is not base64url",
            expected="characters A-Z a-z 0-9 - _",
            actual=repr(bad),
        )
    try:
        raw = base64.urlsafe_b64decode(text)
    except (binascii.Error, ValueError) as exc:  # unreachable after the regex; kept as a guard
        raise CodeFormatError(f"AI 8030 value does not decode: {exc}") from exc
    return raw[:KEY_ID_LENGTH], raw[KEY_ID_LENGTH:]


def build_url(base_url: str, gtin: str, lot: str, serial: str, digsig: str) -> str:
    """The label URL `{base_url}/01/{gtin14}/10/{lot}/21/{serial}?8030={digsig}`.

    `base_url` is an http(s) origin, optionally with a path prefix; a trailing slash is
    dropped. The GTIN is written in its 14-digit form. Lot and serial are percent-encoded so
    that every GS1 set 82 character other than letters, digits, `-`, `.`, `_` becomes `%XX`
    (GS1 Digital Link 1.2 section 4.6), which makes `parse_url` return exactly these values.
    Raises `ValueError` for a bad base URL and `CodeFormatError` for a bad code part.
    """
    base = _checked_base(base_url)
    canonical = _canonical_gtin(gtin)
    lot = _checked_text(lot, "lot")
    serial = _checked_text(serial, "serial")
    decode_digsig(digsig)
    return _url(base, canonical, lot, serial, digsig)


@lru_cache(maxsize=64)
def _checked_base(base_url: str) -> str:
    base = base_url.rstrip("/")
    try:
        parts = urlsplit(base)
    except ValueError as exc:
        raise ValueError(f"base URL {base_url!r} is not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base URL must be http(s)://host[/prefix], got {base_url!r}")
    if parts.query or parts.fragment or "?" in base or "#" in base:
        raise ValueError(f"base URL must not carry a query or fragment, got {base_url!r}")
    return base


def _url(base: str, gtin: str, lot: str, serial: str, digsig: str) -> str:
    # A checked AI 8030 value is base64url: unreserved characters, nothing to escape.
    return f"{base}/01/{gtin}/10/{_escaped(lot)}/21/{_escaped(serial)}?{DIGSIG_AI}={digsig}"


def _escaped(part: str) -> str:
    """`quote(part, safe="")`, without its work for the usual part that needs none."""
    return part if _UNRESERVED_RE.fullmatch(part) else quote(part, safe="")


def parse_url(url: str) -> LabelCode:
    """Parse a scanned label URL into a validated `LabelCode`.

    Any scheme and host are accepted, and the path may carry a prefix before `/01/`; the
    path must end in `/01/{gtin}/10/{lot}/21/{serial}` and the query must hold exactly one
    `8030` parameter (other parameters such as `format=json` are ignored, as is a fragment).
    A GTIN-8/12/13 is normalized to 14 digits. For any string input the only exception
    raised is `CodeFormatError`, whose message says what was wrong.
    """
    text = _checked_url(url)
    printed = _PRINTED.fullmatch(text)
    if printed:  # the form `build_url` writes: nothing escaped, only AI 8030 in the query
        return parse_parts(*printed.groups())
    return _parse_any(text)


def _checked_url(url: str) -> str:
    text = url.strip()
    if not text:
        raise CodeFormatError("label URL is empty")
    if len(text) > MAX_URL_LENGTH:
        raise CodeFormatError(
            "label URL is too long",
            expected=f"at most {MAX_URL_LENGTH} characters",
            actual=f"{len(text)} characters",
        )
    if not text.isascii() or _CONTROL_RE.search(text):
        raise CodeFormatError(
            "label URL must be ASCII without spaces or control characters "
            "(other characters are percent-encoded)"
        )
    return text


def _parse_any(text: str) -> LabelCode:
    """`parse_url` for any form: split, percent-decoded, the query's parameters read."""
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise CodeFormatError(f"label URL cannot be split into its parts: {exc}") from exc

    segments = parts.path.split("/")
    if len(segments) < 7 or segments[-6] != "01" or segments[-4] != "10" or segments[-2] != "21":
        raise CodeFormatError(
            "label URL path has the wrong shape", expected=f"…{_PATH_FORM}", actual=parts.path
        )
    gtin = _unquote_segment(segments[-5], "GTIN")
    lot = _unquote_segment(segments[-3], "lot")
    serial = _unquote_segment(segments[-1], "serial")

    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError as exc:
        raise CodeFormatError(f"label URL query does not parse: {exc}") from exc
    digsigs = [value for key, value in pairs if key == DIGSIG_AI]
    if len(digsigs) != 1:
        raise CodeFormatError(
            "label URL must carry exactly one AI 8030 (digital signature) parameter",
            expected=f"one {DIGSIG_AI}=… query parameter",
            actual=f"{len(digsigs)}",
        )
    return parse_parts(gtin, lot, serial, digsigs[0])


def parse_parts(gtin: str, lot: str, serial: str, digsig: str | None) -> LabelCode:
    """Build a validated `LabelCode` from already percent-decoded path pieces and AI 8030.

    For the HTTP route, whose framework has split and decoded the path. `digsig` is None when
    the request had no `8030` parameter. Raises `CodeFormatError` for any bad piece.
    """
    if digsig is None:
        raise CodeFormatError(
            "label code has no AI 8030 (digital signature)",
            expected=f"a {DIGSIG_AI}=… query parameter",
            actual="none",
        )
    key_id, signature = decode_digsig(digsig)
    # The lot and serial are checked by LabelCode itself, once.
    return LabelCode(_canonical_gtin(gtin), lot, serial, key_id, signature)


def _join_element_string(gtin: str, lot: str, serial: str) -> bytes:
    # Fixed-length AI 01 needs no separator; variable-length AI 10 is ended by GS before AI 21.
    return b"01%b10%b\x1d21%b" % (
        gtin.encode("ascii"),
        lot.encode("ascii"),
        serial.encode("ascii"),
    )


@lru_cache(maxsize=4096)
def _valid_gtin(gtin: str) -> str | None:
    # A registry has few products; remembering their GTINs saves the check-digit sum.
    try:
        return normalize_gtin(gtin)
    except IdentifierError:
        return None


def _canonical_gtin(gtin: str) -> str:
    valid = _valid_gtin(gtin)
    if valid is not None:
        return valid
    try:
        return normalize_gtin(gtin)
    except IdentifierError as exc:
        raise CodeFormatError(str(exc), actual=gtin) from exc


def _checked_text(value: str, field: str) -> str:
    if _AI82_RE.fullmatch(value):
        return value
    try:
        return check_gs1_text(value, field=field)
    except IdentifierError as exc:
        raise CodeFormatError(str(exc), actual=value) from exc


def _check_lengths(key_id: bytes, signature: bytes) -> None:
    if len(key_id) != KEY_ID_LENGTH:
        raise CodeFormatError(
            "key id has the wrong length",
            expected=f"{KEY_ID_LENGTH} bytes",
            actual=f"{len(key_id)} bytes",
        )
    if len(signature) != SIGNATURE_LENGTH:
        raise CodeFormatError(
            "signature has the wrong length",
            expected=f"{SIGNATURE_LENGTH} bytes",
            actual=f"{len(signature)} bytes",
        )


def _unquote_segment(raw: str, field: str) -> str:
    """Percent-decode one path segment, refusing a `%` that does not start a `%XX` escape."""
    if _BAD_PERCENT_RE.search(raw):
        raise CodeFormatError(
            f"{field} has a malformed percent escape", expected="%XX with hex digits", actual=raw
        )
    try:
        return unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise CodeFormatError(f"{field} is not valid percent-encoded UTF-8", actual=raw) from exc


def _is_base64url_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "-_")
