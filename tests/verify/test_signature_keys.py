"""Published label keys (registry/codes/signature.py) at their edges: a non-canonical
base64url `x`, errors that name the key, the member and the expected and actual values, and
the key set's lookups. RFC 8032 TEST 1 and TEST 2 keys; no database."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.codes.errors import KeySetError, RevokedKeyError, SignatureError, UnknownKeyError
from registry.codes.signature import KeySet, PublicKey, key_id_for

VECTORS = json.loads(
    (Path(__file__).resolve().parent.parent / "assets" / "ed25519-rfc8032.json").read_text("utf-8")
)["vectors"]
RAW_1 = bytes.fromhex(VECTORS[0]["public_key"])
RAW_2 = bytes.fromhex(VECTORS[1]["public_key"])
SEED_1 = bytes.fromhex(VECTORS[0]["secret_key"])
# RFC 8037 appendix A.2: the same key as a JWK.
X_1 = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
MESSAGE = b"0109506000134352" + b"10L\x1d21S"


def key(raw: bytes = RAW_1, status: Any = "active") -> PublicKey:
    return PublicKey(key_id=hashlib.sha256(raw).digest()[:2], raw=raw, status=status)


def jwk(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": X_1,
        "kid": key().kid,
        "status": "active",
    }
    document.update(changes)
    return document


def refusal(*keys: dict[str, Any]) -> KeySetError:
    with pytest.raises(KeySetError) as caught:
        KeySet.from_jwks({"keys": list(keys)})
    return caught.value


def non_canonical(x: str) -> str:
    """The same 32 bytes written with non-zero spare bits in the last character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return x[:-1] + alphabet[alphabet.index(x[-1]) | 1]


def test_a_non_canonical_base64url_x_is_refused_although_it_decodes_to_the_same_key() -> None:
    other = non_canonical(X_1)
    assert other != X_1
    assert base64.urlsafe_b64decode(other + "=") == RAW_1  # what a lenient decoder sees
    error = refusal(jwk(x=other))
    assert "JWKS key 0" in error.message
    assert "`x`" in error.message
    assert error.expected == "32 bytes in canonical base64url"
    assert error.actual == "32 bytes"


def test_the_canonical_x_is_accepted_and_decodes_to_the_rfc_key() -> None:
    assert [k.raw for k in KeySet.from_jwks({"keys": [jwk()]})] == [RAW_1]


@pytest.mark.parametrize(
    ("x", "size"),
    [
        (X_1[:-4], "29 bytes"),
        (X_1[:-1], "31 bytes"),
        (X_1[:35], "26 bytes"),
        (X_1 + "AAA", "34 bytes"),
        (X_1 + "AAAA", "35 bytes"),
        ("AAAA", "3 bytes"),
        ("", "0 bytes"),
    ],
)
def test_an_x_of_the_wrong_size_names_the_size(x: str, size: str) -> None:
    error = refusal(jwk(x=x))
    assert error.actual == size
    assert error.expected == "32 bytes in canonical base64url"


@pytest.mark.parametrize("x", [X_1[:-2], X_1 + "A" * 2, X_1 + "=", X_1[:-1] + "+", 42, None])
def test_an_x_that_is_not_unpadded_base64url_is_refused_naming_the_key(x: object) -> None:
    document = jwk(x=x)
    if x is None:
        del document["x"]
    error = refusal(jwk(), dict(document, kid=key(RAW_2).kid) if x is not None else document)
    assert error.message.startswith("JWKS key 1 ")
    assert "`x`" in error.message
    assert "base64url" in error.message


@pytest.mark.parametrize(
    ("member", "value", "expected", "actual"),
    [
        ("kty", "RSA", "kty=OKP", "'RSA'"),
        ("kty", None, "kty=OKP", "None"),
        ("crv", "X25519", "crv=Ed25519", "'X25519'"),
        ("crv", "ed25519", "crv=Ed25519", "'ed25519'"),
        ("use", "enc", "sig", "'enc'"),
        ("alg", "ES256", "EdDSA", "'ES256'"),
        ("alg", "eddsa", "EdDSA", "'eddsa'"),
    ],
)
def test_a_wrong_member_is_named_with_expected_and_actual(
    member: str, value: Any, expected: str, actual: str
) -> None:
    document = jwk(**{member: value})
    if value is None:
        del document[member]
    error = refusal(document)
    assert error.message.startswith("JWKS key 0 ")
    assert (error.expected, error.actual) == (expected, actual)
    if member in ("use", "alg"):
        assert member in error.message


def test_use_and_alg_are_accepted_when_right() -> None:
    assert len(KeySet.from_jwks({"keys": [jwk(use="sig", alg="EdDSA")]})) == 1


@pytest.mark.parametrize("kid", [None, 1234, "ABCD", "abc", "abcde", "g000", " abc"])
def test_a_malformed_kid_is_named(kid: object) -> None:
    document = jwk(kid=kid)
    if kid is None:
        del document["kid"]
    error = refusal(document)
    assert (error.expected, error.actual) == ("4 lowercase hex characters", repr(kid))
    assert error.message.startswith("JWKS key 0 ")
    assert "kid" in error.message


def test_a_kid_that_breaks_the_sha256_rule_names_the_key_and_both_ids() -> None:
    error = refusal(jwk(), jwk(x=X_1, kid="0000"))
    assert error.message.startswith("JWKS key 1 (kid 0000): ")
    assert (error.expected, error.actual) == (key().kid, "0000")


@pytest.mark.parametrize("status", [None, "expired", "Active", 1])
def test_an_unknown_status_is_named(status: object) -> None:
    document = jwk(status=status)
    if status is None:
        del document["status"]
    error = refusal(document)
    assert error.expected == "active / retired / revoked"
    assert error.actual == repr(status)
    assert error.message.startswith("JWKS key 0 ")
    assert "status" in error.message


def test_a_public_key_with_an_unknown_status_is_refused() -> None:
    with pytest.raises(KeySetError) as caught:
        key(status="expired")
    assert (caught.value.expected, caught.value.actual) == ("active / retired / revoked", "expired")
    assert "status" in caught.value.message


@pytest.mark.parametrize("size", [0, 31, 33])
def test_a_raw_key_of_the_wrong_length_names_both_lengths(size: int) -> None:
    with pytest.raises(KeySetError) as caught:
        key_id_for(b"\x01" * size)
    assert (caught.value.expected, caught.value.actual) == ("32 bytes", f"{size} bytes")
    assert "Ed25519" in caught.value.message


def test_a_key_id_that_breaks_the_rule_names_both_ids() -> None:
    with pytest.raises(KeySetError) as caught:
        PublicKey(key_id=b"\x00\x00", raw=RAW_1, status="active")
    assert (caught.value.expected, caught.value.actual) == (key().kid, "0000")
    assert "key id" in caught.value.message


@pytest.mark.parametrize("document", [None, [], "keys", {}, {"keys": None}, {"keys": {}}])
def test_a_document_without_a_keys_array_is_refused(document: object) -> None:
    with pytest.raises(KeySetError, match="`keys` array"):
        KeySet.from_jwks(document)


def test_a_key_that_is_not_an_object_is_named_by_index() -> None:
    error = refusal(jwk(), ["x"])  # type: ignore[arg-type]
    assert error.message.startswith("JWKS key 1 ")


def test_duplicate_key_ids_name_the_kid() -> None:
    with pytest.raises(KeySetError) as caught:
        KeySet([key(), key(status="revoked")])
    assert key().kid in caught.value.message


def test_lookups_by_key_id() -> None:
    keys = KeySet([key(RAW_2, "retired"), key()])
    assert len(keys) == 2
    assert len(KeySet()) == 0
    assert key().key_id in keys
    assert b"\x00\x00" not in keys
    assert keys.get(key().key_id) == key()
    assert keys.get(b"\x00\x00") is None
    assert {k.raw for k in keys} == {RAW_1, RAW_2}
    assert [k["kid"] for k in keys.to_jwks()["keys"]] == sorted([key().kid, key(RAW_2).kid])


def test_an_unknown_key_id_lists_the_known_ones() -> None:
    keys = KeySet([key(RAW_2), key()])
    with pytest.raises(UnknownKeyError) as caught:
        keys.verify(b"\xff\xfe", MESSAGE, bytes(64))
    known = ", ".join(sorted([key().kid, key(RAW_2).kid]))
    assert (caught.value.expected, caught.value.actual) == (f"one of {known}", "fffe")
    assert "fffe" in caught.value.message
    with pytest.raises(UnknownKeyError) as caught:
        KeySet().verify(b"\xff\xfe", MESSAGE, bytes(64))
    assert caught.value.expected == "one of (no keys)"


def test_a_revoked_key_names_its_status() -> None:
    signature = Ed25519PrivateKey.from_private_bytes(SEED_1).sign(MESSAGE)
    keys = KeySet([key(status="revoked")])
    with pytest.raises(RevokedKeyError) as caught:
        keys.verify(key().key_id, MESSAGE, signature)
    assert (caught.value.expected, caught.value.actual) == ("active or retired", "revoked")
    assert key().kid in caught.value.message


def test_a_bad_signature_names_the_key_and_the_signature() -> None:
    signature = Ed25519PrivateKey.from_private_bytes(SEED_1).sign(MESSAGE)
    keys = KeySet([key()])
    assert keys.verify(key().key_id, MESSAGE, signature) == key()
    with pytest.raises(SignatureError) as caught:
        keys.verify(key().key_id, MESSAGE + b"1", signature)
    assert caught.value.actual == signature.hex()
    assert caught.value.expected == f"an Ed25519 signature by key {key().kid}"
    assert key().kid in caught.value.message


def test_the_jwk_is_rfc8037_with_the_registry_members() -> None:
    assert key(status="retired").to_jwk() == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": X_1,
        "kid": key().kid,
        "status": "retired",
        "use": "sig",
        "alg": "EdDSA",
    }
