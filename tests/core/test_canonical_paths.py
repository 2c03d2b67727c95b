"""Canonical JSON (registry/core/canonical.py) at the edges the property test rarely draws:
RFC 8785's own key-sorting example, keys outside the Basic Multilingual Plane, the 2**53
integer limit, and which values take the fast path."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

import registry.core.canonical as canonical
from registry.core.canonical import canonical_json, sha256_hex

# RFC 8785 section 3.2.3: properties sort by their UTF-16 code units, so the emoji (a
# surrogate pair, 0xD83D 0xDE00) sorts before U+FB33 although its code point is larger.
RFC8785_SORTING_EXAMPLE = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}
RFC8785_SORTED_VALUES = [
    "Carriage Return",
    "One",
    "Control",
    "Latin Small Letter O With Diaeresis",
    "Euro Sign",
    "Emoji: Grinning Face",
    "Hebrew Letter Dalet With Dagesh",
]


def test_rfc8785_sorting_example() -> None:
    out = canonical_json(RFC8785_SORTING_EXAMPLE).decode("utf-8")
    positions = [out.index(f'"{value}"') for value in RFC8785_SORTED_VALUES]
    assert positions == sorted(positions)
    assert out.startswith('{"\\r":"Carriage Return","1":"One","\u0080":"Control"')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"\uffff": 1, "\U00010000": 2}, '{"\U00010000":2,"\uffff":1}'),
        ({"\ue000": 1, "\U0001f600": 2, "z": 3}, '{"z":3,"\U0001f600":2,"\ue000":1}'),
        ({"b": {"\uffff": 1, "\U00010000": 2}, "a": 0}, '{"a":0,"b":{"\U00010000":2,"\uffff":1}}'),
        ([{"\uffff": 1, "\U00010000": 2}], '[{"\U00010000":2,"\uffff":1}]'),
    ],
)
def test_keys_beyond_the_bmp_sort_by_utf16_code_units(value: Any, expected: str) -> None:
    assert canonical_json(value) == expected.encode("utf-8")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2**53 - 1, b"9007199254740991"),
        (-(2**53 - 1), b"-9007199254740991"),
        (float(2**53 - 1), b"9007199254740991"),
        (-float(2**53 - 1), b"-9007199254740991"),
        (float(2**53), b"9007199254740992"),  # a double, exact; only integers are limited
        (1e21, b"1e+21"),
        (0.5, b"0.5"),
        (-0.0, b"0"),
        (5000.0, b"5000"),
        ((1, "a", None), b'[1,"a",null]'),
        ({"k": (True, False)}, b'{"k":[true,false]}'),
    ],
)
def test_numbers_and_arrays_are_written_as_jcs(value: Any, expected: bytes) -> None:
    assert canonical_json(value) == expected


@pytest.mark.parametrize("value", [2**53, -(2**53), [1, 2**60], {"n": -(2**64)}])
def test_integers_beyond_2_53_are_refused(value: Any) -> None:
    """JCS numbers are IEEE doubles: an integer a double cannot hold exactly is refused,
    never silently written with digits a verifier would parse differently."""
    with pytest.raises(ValueError, match="integer"):
        canonical_json(value)


@pytest.mark.parametrize("value", [{1: "a"}, {"a": {None: 1}}, [{(1, 2): 3}]])
def test_non_string_keys_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="keys must be strings"):
        canonical_json(value)


def test_an_unserializable_value_is_refused() -> None:
    with pytest.raises(ValueError, match="set"):
        canonical_json({"a": {1, 2}})


class ReferenceCalls:
    """Counts calls of the reference implementation, answering as it would."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._dumps = canonical.rfc8785.dumps

    def __call__(self, value: Any) -> bytes:
        self.values.append(value)
        return bytes(self._dumps(value))


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> ReferenceCalls:
    calls = ReferenceCalls()
    monkeypatch.setattr(canonical.rfc8785, "dumps", calls)
    return calls


COMMON: list[Any] = [
    None,
    True,
    False,
    "text 榕江 \u2028",
    0,
    -(2**53 - 1),
    float(2**53 - 1),
    -float(2**53 - 1),
    5000.0,
    -5000.0,
    [1, "a", None, [True]],
    (1, 2),
    {"batch_id": "b", "seq": 3, "data": {"quantity": 5000.0, "unit": "kg", "ok": True}},
    {"location": None, "tags": ["a", "b"], "nested": ({"k": False},)},
]


@pytest.mark.parametrize("value", COMMON)
def test_the_common_case_takes_the_fast_path(value: Any, reference: ReferenceCalls) -> None:
    """Event bodies (ASCII keys, strings, integers, integral floats) never reach the slow
    reference implementation; its output is the same, so only this test can tell."""
    out = canonical_json(value)
    assert reference.values == []
    assert out == bytes(canonical.rfc8785.dumps(value))


@pytest.mark.parametrize(
    "value",
    [
        0.5,
        2**53,
        float(2**53),
        {"é": 1},
        {"\U00010000": 1},
        [1, 0.25],
        {"a": {"b": [1e-7]}},
        {"a": 1, "ключ": 2},
    ],
)
def test_other_values_take_the_reference_path(value: Any, reference: ReferenceCalls) -> None:
    # Integers beyond 2**53 are refused by the reference, which was still asked.
    with contextlib.suppress(ValueError):
        canonical_json(value)
    assert reference.values == [value]


# A value for each JSON kind, and whether orjson writes it as JCS just as it is.
KINDS: list[tuple[Any, bool]] = [
    ("text", True),
    (True, True),
    (False, True),
    (None, True),
    (0, True),
    (2**53 - 1, True),
    (-(2**53 - 1), True),
    (2**53, False),
    (-(2**53), False),
    (5000.0, False),  # orjson writes 5000.0, JCS 5000
    (0.5, False),
    ([1], True),
    ((1,), True),
    ({"a": 1}, True),
    ({"é": 1}, False),
    ({1: "a"}, False),
    ({1, 2}, False),
]


@pytest.mark.parametrize(("value", "as_is"), KINDS)
def test_values_orjson_writes_as_jcs_are_written_without_a_copy(value: Any, as_is: bool) -> None:
    """The fast path's first test (`registry audit --all` checks every stored event with
    it) holds for each kind alone, as a dict value and as a list item, and fails as soon as
    one item needs the copying path or the reference."""
    assert canonical._written_as_is(value) is as_is
    assert canonical._written_as_is({"k": value, "n": 1}) is as_is
    assert canonical._written_as_is(["s", value, None]) is as_is
    assert canonical._written_as_is((value,)) is as_is
    assert canonical._written_as_is({"a": {"b": [value]}}) is as_is


def test_scalars_of_a_dict_are_checked_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """An event body's scalar values are checked in the dict's own loop, without a call per
    value: only the nested dict costs a call."""
    calls: list[Any] = []
    check = canonical._written_as_is

    def counted(value: Any) -> bool:
        calls.append(value)
        return check(value)

    monkeypatch.setattr(canonical, "_written_as_is", counted)
    body = {"s": "x", "t": True, "f": False, "z": None, "i": 2**53 - 1, "d": {"u": "v"}}
    assert canonical._written_as_is(body) is True
    assert calls == [body, {"u": "v"}]


@pytest.mark.parametrize(
    "value",
    [
        {"n": 2**53 - 1, "q": 5000.0},
        [-(2**53 - 1), 1.0],
        [5000.0, [1.0, "a"], ("b", 2.0)],
        ({"q": 5000.0, "tags": ["a", None, True]},),
    ],
)
def test_integral_floats_with_lists_and_safe_integers_skip_the_reference(
    value: Any, reference: ReferenceCalls
) -> None:
    """Values that orjson writes once integral floats are made integers (lists, tuples and
    integers up to 2**53 - 1 among them) are copied, not sent to the slow reference."""
    assert canonical._written_as_is(value) is False
    out = canonical_json(value)
    assert reference.values == []
    assert out == bytes(canonical.rfc8785.dumps(value))


def test_sha256_hex_is_the_fips_180_digest() -> None:
    """FIPS 180-2 appendix B.1: SHA-256("abc")."""
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
