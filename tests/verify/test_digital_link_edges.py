"""Edges of the label-code format (GS1 Digital Link + AI 8030) the round-trip tests miss:
each wrong path marker alone, blank and repeated AI 8030 values, the URL length limit,
base URLs ending in `?` or `#`, and errors that name the field with expected and actual."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.codes.digital_link import (
    MAX_URL_LENGTH,
    LabelCode,
    _checked_url,
    _escaped,
    _parse_any,
    build_url,
    decode_digsig,
    element_string,
    encode_digsig,
    parse_parts,
    parse_url,
)
from registry.codes.errors import CodeFormatError

GTIN = "09506000134352"
KEY_ID = bytes.fromhex("a1b2")
SIGNATURE = bytes(range(64))
DIGSIG = encode_digsig(KEY_ID, SIGNATURE)
BASE = "https://registry.example"


def refusal(url: str) -> CodeFormatError:
    with pytest.raises(CodeFormatError) as caught:
        parse_url(url)
    assert caught.value.reason == "malformed_code"
    return caught.value


@pytest.mark.parametrize(
    "path",
    [
        f"/99/{GTIN}/10/L/21/S",  # AI 01 replaced
        f"/01/{GTIN}/11/L/21/S",  # AI 10 replaced
        f"/01/{GTIN}/10/L/22/S",  # AI 21 replaced
        f"01/{GTIN}/10/L/21/S",  # no leading slash: six segments
        f"/01/{GTIN}/10/L/21",
    ],
)
def test_each_wrong_path_marker_alone_is_refused_naming_the_path(path: str) -> None:
    error = refusal(
        f"{BASE}{path}?8030={DIGSIG}" if path.startswith("/") else f"{path}?8030={DIGSIG}"
    )
    assert error.actual == path
    assert error.expected is not None
    assert error.expected.endswith("/01/{gtin}/10/{lot}/21/{serial}")


def test_a_path_without_scheme_or_host_is_accepted() -> None:
    code = parse_url(f"/01/{GTIN}/10/L/21/S?8030={DIGSIG}")
    assert (code.gtin, code.lot, code.serial) == (GTIN, "L", "S")


@pytest.mark.parametrize(
    ("query", "count"),
    [
        (f"8030=&8030={DIGSIG}", "2"),
        (f"8030={DIGSIG}&8030=", "2"),
        (f"8030={DIGSIG}&8030={DIGSIG}", "2"),
        ("format=json", "0"),
        (f"x8030={DIGSIG}", "0"),
    ],
)
def test_a_blank_or_repeated_ai_8030_is_refused_with_the_count(query: str, count: str) -> None:
    error = refusal(f"{BASE}/01/{GTIN}/10/L/21/S?{query}")
    assert error.actual == count
    assert error.expected == "one 8030=… query parameter"


def test_a_blank_ai_8030_alone_is_a_wrong_length_not_a_missing_one() -> None:
    error = refusal(f"{BASE}/01/{GTIN}/10/L/21/S?8030=")
    assert (error.expected, error.actual) == ("88 base64url characters", "0 characters")


def padded_url(length: int) -> str:
    url = f"{BASE}/01/{GTIN}/10/L/21/S?8030={DIGSIG}&pad="
    return url + "p" * (length - len(url))


def test_the_url_length_limit_is_inclusive() -> None:
    at_limit = padded_url(MAX_URL_LENGTH)
    assert len(at_limit) == MAX_URL_LENGTH == 2048
    assert parse_url(at_limit).serial == "S"
    assert parse_url(f"  {at_limit}  ").serial == "S"  # surrounding blanks do not count
    error = refusal(padded_url(MAX_URL_LENGTH + 1))
    assert (error.expected, error.actual) == ("at most 2048 characters", "2049 characters")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_url_is_refused(text: str) -> None:
    assert "empty" in str(refusal(text))


@pytest.mark.parametrize("bad", ["\x00", "\x1f", "\x7f", "\u00e9", "\u6279"])
def test_control_and_non_ascii_characters_are_refused_anywhere(bad: str) -> None:
    error = refusal(f"{BASE}/01/{GTIN}/10/L/21/S?8030={DIGSIG}&note={bad}x")
    assert "ASCII" in error.message


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/01/{GTIN[:5]}%G{GTIN[6:]}/10/L/21/S", "GTIN"),
        (f"/01/{GTIN}/10/L%2/21/S", "lot"),
        (f"/01/{GTIN}/10/L/21/S%", "serial"),
    ],
)
def test_a_malformed_percent_escape_names_the_field(path: str, field: str) -> None:
    error = refusal(f"{BASE}{path}?8030={DIGSIG}")
    assert error.message.startswith(f"{field} ")
    assert error.actual == path.split("/")[{"GTIN": 2, "lot": 4, "serial": 6}[field]]
    assert error.expected == "%XX with hex digits"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/01/{GTIN[:-1]}%FF/10/L/21/S", "GTIN"),
        (f"/01/{GTIN}/10/L%C3/21/S", "lot"),
        (f"/01/{GTIN}/10/L/21/%80", "serial"),
    ],
)
def test_undecodable_utf8_names_the_field(path: str, field: str) -> None:
    error = refusal(f"{BASE}{path}?8030={DIGSIG}")
    assert error.message.startswith(f"{field} ")
    assert "UTF-8" in error.message


@pytest.mark.parametrize(
    ("gtin", "lot", "serial", "field", "actual"),
    [
        ("09506000134353", "L", "S", "GTIN", "09506000134353"),
        (GTIN, "", "S", "lot", ""),
        (GTIN, "L", "S" * 21, "serial", "S" * 21),
        (GTIN, "L~", "S", "lot", "L~"),
        (GTIN, "L", "S ", "serial", "S "),
    ],
)
def test_bad_parts_name_the_field_and_the_value(
    gtin: str, lot: str, serial: str, field: str, actual: str
) -> None:
    for build in (
        lambda: parse_parts(gtin, lot, serial, DIGSIG),
        lambda: LabelCode(gtin, lot, serial, KEY_ID, SIGNATURE),
        lambda: build_url(BASE, gtin, lot, serial, DIGSIG),
        lambda: element_string(gtin, lot, serial),
    ):
        with pytest.raises(CodeFormatError) as caught:
            build()
        assert caught.value.message.startswith(f"{field} "), caught.value.message
        assert caught.value.actual == actual


def test_a_gtin_with_a_wrong_check_digit_names_both_digits() -> None:
    error = refusal(f"{BASE}/01/09506000134353/10/L/21/S?8030={DIGSIG}")
    assert "check digit 3, expected 2" in error.message
    assert error.actual == "09506000134353"


@pytest.mark.parametrize("gtin", ["9506000134352", "0950600013435X", "19506000134352"])
def test_a_label_code_holds_only_a_valid_14_digit_gtin(gtin: str) -> None:
    with pytest.raises(CodeFormatError) as caught:
        LabelCode(gtin, "L", "S", KEY_ID, SIGNATURE)
    assert caught.value.actual == gtin
    assert "GTIN" in caught.value.message
    if len(gtin) != 14:
        assert caught.value.expected == "14 digits"


def test_a_label_code_accepts_a_valid_14_digit_gtin_and_keeps_it() -> None:
    code = LabelCode(GTIN, "L", "S", KEY_ID, SIGNATURE)
    assert code.gtin == GTIN
    assert code.digsig == DIGSIG
    assert code.to_url(BASE + "/") == f"{BASE}/01/{GTIN}/10/L/21/S?8030={DIGSIG}"


@pytest.mark.parametrize(
    ("key_id", "signature", "field", "expected", "actual"),
    [
        (b"\x01", SIGNATURE, "key id", "2 bytes", "1 bytes"),
        (b"\x01\x02\x03", SIGNATURE, "key id", "2 bytes", "3 bytes"),
        (KEY_ID, SIGNATURE[:63], "signature", "64 bytes", "63 bytes"),
        (KEY_ID, SIGNATURE + b"\x00", "signature", "64 bytes", "65 bytes"),
    ],
)
def test_wrong_lengths_name_the_field_expected_and_actual(
    key_id: bytes, signature: bytes, field: str, expected: str, actual: str
) -> None:
    for build in (
        lambda: encode_digsig(key_id, signature),
        lambda: LabelCode(GTIN, "L", "S", key_id, signature),
    ):
        with pytest.raises(CodeFormatError) as caught:
            build()
        assert (caught.value.expected, caught.value.actual) == (expected, actual)
        assert field in caught.value.message


@pytest.mark.parametrize(
    ("text", "actual"),
    [
        (DIGSIG[:-2] + "+/", "'+/'"),
        (DIGSIG[:-3] + "é+é", "'+é'"),
        (DIGSIG[:-2] + "=.", "'.='"),
        ("ab" * 43 + "- ", "' '"),
    ],
)
def test_a_non_base64url_digsig_names_each_bad_character_once(text: str, actual: str) -> None:
    assert len(text) == 88
    with pytest.raises(CodeFormatError) as caught:
        decode_digsig(text)
    assert (caught.value.expected, caught.value.actual) == ("characters A-Z a-z 0-9 - _", actual)


@pytest.mark.parametrize("length", [0, 87, 89])
def test_a_digsig_of_the_wrong_length_names_it(length: int) -> None:
    with pytest.raises(CodeFormatError) as caught:
        decode_digsig(("A" * 89)[:length])
    assert caught.value.expected == "88 base64url characters"
    assert caught.value.actual == f"{length} characters"


def test_a_missing_digsig_is_named() -> None:
    with pytest.raises(CodeFormatError) as caught:
        parse_parts(GTIN, "L", "S", None)
    assert (caught.value.expected, caught.value.actual) == ("a 8030=… query parameter", "none")


@pytest.mark.parametrize(
    "base",
    [
        "https://registry.example?",
        "https://registry.example#",
        "https://registry.example/?",
        "https://registry.example/prefix#/",
        "https://registry.example/p?q",
    ],
)
def test_a_base_url_ending_in_a_query_or_fragment_mark_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="query or fragment"):
        build_url(base, GTIN, "L", "S", DIGSIG)


@pytest.mark.parametrize("base", ["http://[::1", "https://[registry.example"])
def test_a_base_url_that_does_not_split_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="base URL") as caught:
        build_url(base, GTIN, "L", "S", DIGSIG)
    assert not isinstance(caught.value, CodeFormatError)


@pytest.mark.parametrize(
    ("base", "url_start"),
    [
        ("https://registry.example/", "https://registry.example/01/"),
        ("https://registry.example//", "https://registry.example/01/"),
        ("http://127.0.0.1:8000/labels/", "http://127.0.0.1:8000/labels/01/"),
    ],
)
def test_trailing_slashes_of_the_base_url_are_dropped(base: str, url_start: str) -> None:
    assert build_url(base, GTIN, "L/1", "S", DIGSIG) == (
        f"{url_start}{GTIN}/10/L%2F1/21/S?8030={DIGSIG}"
    )


def test_build_url_writes_the_14_digit_gtin_and_checks_the_digsig() -> None:
    assert build_url(BASE, GTIN[1:], "L", "S", DIGSIG).startswith(f"{BASE}/01/{GTIN}/")
    with pytest.raises(CodeFormatError) as caught:
        build_url(BASE, GTIN, "L", "S", DIGSIG[:-1] + "+")
    assert caught.value.actual == "'+'"


def test_a_base_path_ending_in_x_is_kept() -> None:
    url = build_url(f"{BASE}/X/", GTIN, "L1", "S1", DIGSIG)
    assert url.startswith(f"{BASE}/X/01/{GTIN}/10/L1/21/S1?8030=")


def test_a_segment_that_is_not_utf8_is_named_with_its_raw_text() -> None:
    with pytest.raises(CodeFormatError) as caught:
        parse_url(f"{BASE}/01/{GTIN}/10/%FF/21/S1?8030={DIGSIG}")
    assert caught.value.actual == "%FF"
    assert "lot" in str(caught.value)


_PIECES = st.sampled_from(
    [
        "https://r.example", "http://127.0.0.1:8000", "//host", "/prefix", "http://[::1",
        "/01/", "/10/", "/21/", "06901234500004", "09506000134352", "00000000000000", "L1",
        "a.b-c_d", "%2F", "%41", "%", "?", "&", "#", "=", "8030=", "8030", "format=json",
        "x" * 21, "/", "A" * 88, "wXob" * 22, "B" * 87, ":", "@", "~",
    ]
)  # fmt: skip


# lot or serial: unreserved characters, escapes that decode to them or to others, AI 82
# characters that `build_url` escapes, and pieces that make it too long or malformed
_SEGMENT = st.lists(
    st.sampled_from(["A", "z", "0", ".", "_", "-", "%41", "%2F", "%2e", "!", "~", "%", "Q" * 20]),
    max_size=5,
).map("".join)


def _outcome(parse: object, text: str) -> object:
    try:
        return parse(text)  # type: ignore[operator]
    except CodeFormatError as exc:
        return ("refused", str(exc))


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(
        st.lists(_PIECES, max_size=12).map("".join),
        st.builds(
            lambda base, pre, lot, serial, tail: (
                f"{base}{pre}/01/06901234500004/10/{lot}/21/{serial}?8030={'wXob' * 22}{tail}"
            ),
            st.sampled_from(["", "https://r.example", "http://h:8000", "//h", "HTTP+x://h"]),
            st.sampled_from(["", "/p", "/01/10/21", "/a/b"]),
            _SEGMENT,
            _SEGMENT,
            st.sampled_from(["", "&format=json", "#f", "&8030=x", "x"]),
        ),
    )
)
def test_the_printed_form_reads_as_the_general_parser_reads_it(text: str) -> None:
    """`parse_url` reads a URL of the printed form without splitting it: for any input it
    must answer what the general parser answers (the same code or the same refusal)."""
    assert _outcome(parse_url, text) == _outcome(lambda t: _parse_any(_checked_url(t)), text)


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=24))
def test_a_part_is_escaped_as_quote_escapes_it(part: str) -> None:
    assert _escaped(part) == quote(part, safe="")
