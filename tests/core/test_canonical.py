"""The fast canonical JSON path agrees with the RFC 8785 reference implementation."""

from __future__ import annotations

import json

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core.canonical import canonical_json

_numbers = st.one_of(
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**6), max_value=10**6).map(float),
)
_scalars = st.one_of(st.none(), st.booleans(), _numbers, st.text())
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_canonical_json_matches_the_reference(value: object) -> None:
    assert canonical_json(value) == bytes(rfc8785.dumps(value))


def test_control_characters_and_unicode_are_written_as_jcs_requires() -> None:
    value = {"b": '\u0000\u001f\b\t\n\f\r"\\\u007f\u2028榕江', "a": [5000.0, -0.0, 1, True]}
    out = canonical_json(value)
    assert out == bytes(rfc8785.dumps(value))
    assert json.loads(out) == {"a": [5000, 0, 1, True], "b": value["b"]}
    assert out.startswith(b'{"a":[5000,0,1,true],"b":"\\u0000\\u001f\\b\\t\\n\\f\\r\\"\\\\')
