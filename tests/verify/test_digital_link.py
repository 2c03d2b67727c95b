"""GS1 Digital Link label URLs: building, parsing, element strings and the AI 8030 value."""

from __future__ import annotations

import base64
import contextlib
import re
import string
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.codes.digital_link import (
    LabelCode,
    build_url,
    decode_digsig,
    element_string,
    encode_digsig,
    parse_parts,
    parse_url,
)
from registry.codes.errors import CodeFormatError
from registry.core.identifiers import GS1_AI82, gs1_check_digit

# No example database: the suite must not write `.hypothesis/` into the working tree.
HYPOTHESIS = settings(database=None, max_examples=300, deadline=None)

GTIN = "09506000134352"  # a valid GTIN-14 (GS1's documentation example)
KEY_ID = bytes.fromhex("a1b2")
SIGNATURE = bytes(range(64))
DIGSIG = encode_digsig(KEY_ID, SIGNATURE)
BASE = "https://registry.example"
VALID_URL = f"{BASE}/01/{GTIN}/10/LOT-1/21/0001?8030={DIGSIG}"


def gtins(length: int) -> st.SearchStrategy[str]:
    """GTINs of `length` digits with a correct GS1 check digit."""
    body = st.text(alphabet=string.digits, min_size=length - 1, max_size=length - 1)
    return body.map(lambda b: b + str(gs1_check_digit(b)))


ai82_text = st.text(alphabet=sorted(GS1_AI82), min_size=1, max_size=20)
digsigs = st.builds(
    encode_digsig, st.binary(min_size=2, max_size=2), st.binary(min_size=64, max_size=64)
)
base_urls = st.sampled_from(
    [
        "https://registry.example",
        "https://registry.example/",
        "http://127.0.0.1:8000",
        "https://origin.example.cn/prefix/labels",
    ]
)


@HYPOTHESIS
@given(base=base_urls, gtin=gtins(14), lot=ai82_text, serial=ai82_text, digsig=digsigs)
def test_build_then_parse_returns_the_same_code(
    base: str, gtin: str, lot: str, serial: str, digsig: str
) -> None:
    url = build_url(base, gtin, lot, serial, digsig)
    code = parse_url(url)
    key_id, signature = decode_digsig(digsig)
    assert code == LabelCode(gtin, lot, serial, key_id, signature)
    assert code.digsig == digsig
    assert code.to_url(base) == url


@HYPOTHESIS
@given(gtin=gtins(14), lot=ai82_text, serial=ai82_text, digsig=digsigs)
def test_built_url_uses_only_unreserved_characters_or_escapes_in_path(
    gtin: str, lot: str, serial: str, digsig: str
) -> None:
    url = build_url(BASE, gtin, lot, serial, digsig)
    parts = urlsplit(url)
    assert re.fullmatch(r"(/|[A-Za-z0-9._~-]|%[0-9A-F]{2})*", parts.path)
    assert parts.path.split("/")[1:] == [
        "01",
        gtin,
        "10",
        parts.path.split("/")[4],
        "21",
        parts.path.split("/")[6],
    ]
    assert parts.query == f"8030={digsig}"
    assert not parts.fragment


@pytest.mark.parametrize("length", [8, 12, 13])
@HYPOTHESIS
@given(data=st.data())
def test_short_gtins_are_accepted_and_padded_to_14(length: int, data: st.DataObject) -> None:
    short = data.draw(gtins(length))
    code = parse_url(f"{BASE}/01/{short}/10/L1/21/S1?8030={DIGSIG}")
    assert code.gtin == short.zfill(14)
    assert code.element_string == element_string(short.zfill(14), "L1", "S1")
    assert build_url(BASE, short, "L1", "S1", DIGSIG) == build_url(
        BASE, short.zfill(14), "L1", "S1", DIGSIG
    )


def test_build_url_golden_percent_encoding() -> None:
    # '#' is not in set 82, so it can never reach a path; '?', '/', '%' and '&' can.
    url = build_url("https://registry.example/", GTIN, "A/B%C?D&E._-", "x'(1)*+,:;<=>!\"", DIGSIG)
    assert url == (
        "https://registry.example/01/09506000134352"
        "/10/A%2FB%25C%3FD%26E._-"
        "/21/x%27%281%29%2A%2B%2C%3A%3B%3C%3D%3E%21%22"
        f"?8030={DIGSIG}"
    )
    code = parse_url(url)
    assert (code.lot, code.serial) == ("A/B%C?D&E._-", "x'(1)*+,:;<=>!\"")


def test_element_string_is_the_gs1_element_string_with_group_separator() -> None:
    assert element_string(GTIN, "ABC/1", "0001") == b"0109506000134352" + b"10ABC/1\x1d210001"
    assert element_string("9506000134352", "ABC/1", "0001") == element_string(GTIN, "ABC/1", "0001")
    code = LabelCode(GTIN, "ABC/1", "0001", KEY_ID, SIGNATURE)
    assert code.element_string == b"0109506000134352" + b"10ABC/1\x1d210001"


@pytest.mark.parametrize(
    ("gtin", "lot", "serial"),
    [
        ("09506000134353", "L", "S"),  # check digit off by one
        (GTIN, "", "S"),
        (GTIN, "L" * 21, "S"),
        (GTIN, "L", "S#1"),  # '#' is outside set 82
        (GTIN, "L", "序列"),
    ],
)
def test_element_string_refuses_bad_parts(gtin: str, lot: str, serial: str) -> None:
    with pytest.raises(CodeFormatError):
        element_string(gtin, lot, serial)


@HYPOTHESIS
@given(key_id=st.binary(min_size=2, max_size=2), signature=st.binary(min_size=64, max_size=64))
def test_digsig_round_trip_is_88_base64url_characters(key_id: bytes, signature: bytes) -> None:
    digsig = encode_digsig(key_id, signature)
    assert len(digsig) == 88
    assert re.fullmatch(r"[A-Za-z0-9_-]{88}", digsig)
    assert base64.urlsafe_b64decode(digsig) == key_id + signature
    assert decode_digsig(digsig) == (key_id, signature)


@pytest.mark.parametrize(
    "text",
    [
        "",
        DIGSIG[:-1],
        DIGSIG + "A",
        DIGSIG[:-2] + "==",
        DIGSIG[:-1] + "+",
        DIGSIG[:-1] + "/",
        DIGSIG[:-1] + " ",
        DIGSIG[:-1] + "é",
    ],
)
def test_decode_digsig_refuses_malformed_values(text: str) -> None:
    with pytest.raises(CodeFormatError) as info:
        decode_digsig(text)
    assert info.value.reason == "malformed_code"


@pytest.mark.parametrize(("key_id", "signature"), [(b"\x01", SIGNATURE), (KEY_ID, SIGNATURE[:63])])
def test_encode_digsig_refuses_wrong_lengths(key_id: bytes, signature: bytes) -> None:
    with pytest.raises(CodeFormatError):
        encode_digsig(key_id, signature)


def test_parse_url_accepts_prefix_extra_params_and_fragment() -> None:
    url = (
        f"https://h.example:8443/some/prefix/01/{GTIN}/10/LOT-1/21/0001?format=json&8030={DIGSIG}#x"
    )
    code = parse_url(url)
    assert code == LabelCode(GTIN, "LOT-1", "0001", KEY_ID, SIGNATURE)
    assert parse_url(f"  {VALID_URL}\n") == code


def test_parse_url_decodes_lowercase_escapes() -> None:
    code = parse_url(f"{BASE}/01/{GTIN}/10/a%2fb/21/%3d?8030={DIGSIG}")
    assert (code.lot, code.serial) == ("a/b", "=")


@pytest.mark.parametrize(
    ("url", "fragment_of_message"),
    [
        ("", "empty"),
        (f"{BASE}/01/{GTIN}/10/L/21/S", "8030"),
        (f"{BASE}/01/{GTIN}/10/L/21/S?8030={DIGSIG}&8030={DIGSIG}", "exactly one"),
        (f"{BASE}/01/{GTIN}/21/S?8030={DIGSIG}", "shape"),
        (f"{BASE}/01/{GTIN}/10/L/21/S/?8030={DIGSIG}", "shape"),
        (f"{BASE}/01/{GTIN}/10/L/22/S?8030={DIGSIG}", "shape"),
        (f"{BASE}/01/09506000134353/10/L/21/S?8030={DIGSIG}", "check digit"),
        (f"{BASE}/01/0950600013435/10/L/21/S?8030={DIGSIG}", "GTIN"),
        (f"{BASE}/01/{GTIN}/10//21/S?8030={DIGSIG}", "lot"),
        (f"{BASE}/01/{GTIN}/10/{'L' * 21}/21/S?8030={DIGSIG}", "lot"),
        (f"{BASE}/01/{GTIN}/10/L/21/a%20b?8030={DIGSIG}", "serial"),
        (f"{BASE}/01/{GTIN}/10/L/21/a%23?8030={DIGSIG}", "serial"),
        (f"{BASE}/01/{GTIN}/10/L%G1/21/S?8030={DIGSIG}", "percent"),
        (f"{BASE}/01/{GTIN}/10/L%2/21/S?8030={DIGSIG}", "percent"),
        (f"{BASE}/01/{GTIN}/10/L%FF/21/S?8030={DIGSIG}", "UTF-8"),
        (f"{BASE}/01/{GTIN}/10/L/21/S?8030={DIGSIG[:-1]}", "length"),
        (f"{BASE}/01/{GTIN}/10/L/21/S?8030={DIGSIG[:-1]}%2B", "base64url"),
        (f"{BASE}/01/{GTIN}/10/批次/21/S?8030={DIGSIG}", "ASCII"),
        (f"{BASE}/01/{GTIN}/10/L 1/21/S?8030={DIGSIG}", "ASCII"),
        (f"http://[::1/01/{GTIN}/10/L/21/S?8030={DIGSIG}", "parts"),
        (VALID_URL + "&x=" + "a" * 2048, "too long"),
    ],
)
def test_parse_url_refuses_malformed_codes(url: str, fragment_of_message: str) -> None:
    with pytest.raises(CodeFormatError) as info:
        parse_url(url)
    assert info.value.reason == "malformed_code"
    assert fragment_of_message.lower() in str(info.value).lower()


@HYPOTHESIS
@given(text=st.text())
def test_parse_url_raises_only_code_format_error_on_arbitrary_text(text: str) -> None:
    with contextlib.suppress(CodeFormatError):
        parse_url(text)


@HYPOTHESIS
@given(
    position=st.integers(min_value=0, max_value=len(VALID_URL)),
    cut=st.integers(min_value=0, max_value=4),
    insert=st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=4),
)
def test_parse_url_on_mutated_valid_urls_returns_a_code_or_a_format_error(
    position: int, cut: int, insert: str
) -> None:
    mutated = VALID_URL[:position] + insert + VALID_URL[position + cut :]
    try:
        code = parse_url(mutated)
    except CodeFormatError as exc:
        error: CodeFormatError | None = exc
    else:
        error = None
        assert len(code.gtin) == 14
    if error is not None:
        assert error.reason == "malformed_code"
        assert str(error)


@HYPOTHESIS
@given(gtin=st.text(max_size=16), lot=st.text(max_size=24), serial=st.text(max_size=24))
def test_parse_url_on_arbitrary_path_pieces_raises_only_code_format_error(
    gtin: str, lot: str, serial: str
) -> None:
    with contextlib.suppress(CodeFormatError):
        parse_url(f"{BASE}/01/{gtin}/10/{lot}/21/{serial}?8030={DIGSIG}")


def test_parse_parts_takes_decoded_pieces() -> None:
    code = parse_parts("9506000134352", "A/B?", "7", DIGSIG)
    assert code == LabelCode(GTIN, "A/B?", "7", KEY_ID, SIGNATURE)


def test_parse_parts_without_digsig_names_the_missing_ai() -> None:
    with pytest.raises(CodeFormatError, match="8030"):
        parse_parts(GTIN, "L", "S", None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gtin": "9506000134352"},  # must be the 14-digit form
        {"key_id": b"\x01\x02\x03"},
        {"signature": b"\x00" * 65},
        {"lot": "L?" * 11},
    ],
)
def test_label_code_refuses_invalid_fields(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "gtin": GTIN,
        "lot": "L",
        "serial": "S",
        "key_id": KEY_ID,
        "signature": SIGNATURE,
    }
    fields.update(kwargs)
    with pytest.raises(CodeFormatError):
        LabelCode(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "base",
    [
        "registry.example",
        "ftp://registry.example",
        "https://",
        "https://h.example?x=1",
        "https://h#f",
    ],
)
def test_build_url_refuses_bad_base_urls(base: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        build_url(base, GTIN, "L", "S", DIGSIG)


def test_build_url_refuses_bad_parts() -> None:
    with pytest.raises(CodeFormatError):
        build_url(BASE, GTIN, "L#1", "S", DIGSIG)
    with pytest.raises(CodeFormatError):
        build_url(BASE, GTIN, "L", "S", DIGSIG[:-1])
