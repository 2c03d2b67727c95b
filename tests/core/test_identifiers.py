"""Identifier formats (DESIGN.md "Identifiers and formats"), checked against published
examples: GS1 GTINs and check digits, AI character set 82, county and credit codes."""

from __future__ import annotations

import string

import pytest

from registry.core.identifiers import (
    GS1_AI82,
    IdentifierError,
    check_county_code,
    check_credit_code,
    check_gs1_text,
    check_text,
    gs1_check_digit,
    normalize_gtin,
)


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("9638507", 4),  # GTIN-8 (EAN-8 example)
        ("03600029145", 2),  # GTIN-12 (UPC-A example)
        ("400638133393", 1),  # GTIN-13 (EAN-13 example)
        ("690123456789", 2),  # GTIN-13, the design's example
        ("0001234560001", 2),  # GTIN-14 (GS1 example)
        ("0000000000000", 0),
    ],
)
def test_gs1_check_digit(body: str, check: int) -> None:
    assert gs1_check_digit(body) == check


@pytest.mark.parametrize(
    ("value", "gtin14"),
    [
        ("96385074", "00000096385074"),
        ("036000291452", "00036000291452"),
        ("4006381333931", "04006381333931"),
        ("6901234567892", "06901234567892"),
        ("06901234567892", "06901234567892"),
        ("00012345600012", "00012345600012"),
    ],
    ids=["gtin-8", "gtin-12", "gtin-13", "design-13", "design-14", "gtin-14"],
)
def test_normalize_gtin_left_pads_to_14(value: str, gtin14: str) -> None:
    assert normalize_gtin(value) == gtin14


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("06901234567893", "check digit 3, expected 2"),
        ("96385075", "expected 4"),
        ("6901234", "8, 12, 13 or 14 digits"),  # 7 digits
        ("690123456", "8, 12, 13 or 14 digits"),  # 9
        ("69012345678", "8, 12, 13 or 14 digits"),  # 11
        ("069012345678920", "8, 12, 13 or 14 digits"),  # 15
        ("", "8, 12, 13 or 14 digits"),
        ("0690123456789X", "digits"),
        ("0690 234567892", "digits"),
        ("０６９０１２３４５６７８９２", "digits"),  # full-width digits are not ASCII
    ],
)
def test_normalize_gtin_refuses(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        normalize_gtin(value)


def test_ai82_is_the_gs1_set() -> None:
    assert len(GS1_AI82) == 82
    assert set(string.ascii_letters + string.digits) <= GS1_AI82
    assert set("!\"%&'()*+,-./:;<=>?_") <= GS1_AI82
    assert not set(" #$@[\\]^`{|}~\x1d") & GS1_AI82


@pytest.mark.parametrize("value", ["A", "RJ2026-1120-A", "x" * 20, "!\"%&'()*+,-./:;<=>?_", "09"])
def test_gs1_text_accepts(value: str) -> None:
    assert check_gs1_text(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "1-20 characters, got 0"),
        ("x" * 21, "1-20 characters, got 21"),
        ("LOT 1", "outside GS1 set 82: ' '"),
        ("LOT#1", "'#'"),
        ("批次1", "'批次'"),
        ("A\x1dB", "outside GS1 set 82"),  # GS separates elements: never inside one
    ],
)
def test_gs1_text_refuses(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        check_gs1_text(value, field="serial" if "x" in value else "lot")


def test_gs1_text_names_the_field() -> None:
    with pytest.raises(IdentifierError, match=r"^serial "):
        check_gs1_text("", field="serial")


@pytest.mark.parametrize("value", ["522632", "522601", "110101", "230184", "820001"])
def test_county_codes_accepted(value: str) -> None:
    assert check_county_code(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "522600",  # a prefecture, not a county
        "520000",  # a province
        "52263",
        "5226321",
        "022632",  # no province code starts with 0
        "922632",  # nor with 9
        "52263a",
        "５２２６３２",
        " 522632",
    ],
)
def test_county_codes_refused(value: str) -> None:
    with pytest.raises(IdentifierError, match="6-digit county-level code"):
        check_county_code(value)


@pytest.mark.parametrize(
    "value",
    [
        "91350100M000100Y43",  # the design's example
        "914403001922038216",  # Huawei Technologies Co., Ltd.
        "9144030071526726XG",  # a published Shenzhen code with a letter check character
    ],
)
def test_credit_codes_accepted(value: str) -> None:
    assert check_credit_code(value) == value
    assert check_credit_code(value.lower()) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("91350100M000100Y44", "check character is 4, expected 3"),
        ("914403001922038217", "expected 6"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y433", "18 characters"),
        ("91350100I000100Y43", "18 characters"),  # I, O, S, V, Z are not in the alphabet
        ("91350100O000100Y43", "18 characters"),
        ("91350100S000100Y43", "18 characters"),
        ("91350100V000100Y43", "18 characters"),
        ("91350100Z000100Y43", "18 characters"),
        ("91350100-000100Y43", "18 characters"),
    ],
)
def test_credit_codes_refused(value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        check_credit_code(value)


def test_every_single_character_typo_in_a_credit_code_is_caught() -> None:
    """The check character is a mod-31 sum with weights coprime to 31: any one changed
    character changes the sum, so no one-character typo passes."""
    valid = "91350100M000100Y43"
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for i in range(18):
        for c in alphabet:
            if c == valid[i]:
                continue
            typo = valid[:i] + c + valid[i + 1 :]
            with pytest.raises(IdentifierError):
                check_credit_code(typo)


def test_gs1_text_names_the_lot_by_default() -> None:
    with pytest.raises(IdentifierError, match=r"^lot must be 1-20 characters, got 0$"):
        check_gs1_text("")
    with pytest.raises(IdentifierError, match=r"^lot has characters"):
        check_gs1_text("a b")


@pytest.mark.parametrize(
    ("value", "found"),
    [("06901234567893", "3"), ("00012345600019", "9"), ("96385070", "0")],
)
def test_gtin_check_digit_error_names_found_and_expected(value: str, found: str) -> None:
    expected = str(gs1_check_digit(value[:-1]))
    with pytest.raises(IdentifierError) as caught:
        normalize_gtin(value)
    assert f"check digit {found}, expected {expected}" in str(caught.value)
    assert value in str(caught.value)


def test_gtin_refusals_name_the_value() -> None:
    with pytest.raises(IdentifierError, match="'690123456'"):
        normalize_gtin("690123456")


@pytest.mark.parametrize("bad", ["批", "#", " ", "\x1d"])
def test_gs1_text_lists_each_offending_character_once_in_order(bad: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        check_gs1_text(f"A{bad}B{bad}~", field="serial")
    assert str(caught.value).startswith("serial ")
    assert repr("".join(sorted({bad, "~"}))) in str(caught.value)


def test_credit_code_errors_name_the_value_and_both_characters() -> None:
    with pytest.raises(IdentifierError, match="'91350100M000100Y4'"):
        check_credit_code("91350100M000100Y4")
    with pytest.raises(IdentifierError, match="check character is 4, expected 3"):
        check_credit_code("91350100m000100y44")


def test_text_with_nul_is_refused_and_other_text_kept() -> None:
    for kept in ("", "XX", "\u4e2d\u6587 \t\n\x01"):
        assert check_text(kept) == kept
    for bad in ("\x00", "a\x00b", "end\x00"):
        with pytest.raises(IdentifierError, match="NUL"):
            check_text(bad)
