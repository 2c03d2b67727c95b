"""Label signature verification against the published key set (JWKS)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.codes.digital_link import LabelCode, build_url, parse_url
from registry.codes.errors import (
    KeySetError,
    RevokedKeyError,
    SignatureError,
    UnknownKeyError,
    VerificationError,
)
from registry.codes.signature import (
    KeySet,
    KeyStatus,
    PublicKey,
    VerifiedSignatures,
    key_id_for,
    verify_label,
)
from registry.labels.crypto import private_key_from_seed, public_raw, sign_label

ASSETS = Path(__file__).resolve().parent.parent / "assets"
HYPOTHESIS = settings(database=None, max_examples=200, deadline=None)

GTIN = "09506000134352"
OTHER_GTIN = "04006381333931"
LOT = "RJ-2025/07"
SERIAL = "000123"
BASE = "https://registry.example"


def asset(name: str) -> Any:
    """A checked-in JSON test vector from tests/assets/."""
    return json.loads((ASSETS / name).read_text(encoding="utf-8"))


RFC8032 = asset("ed25519-rfc8032.json")
SEED_1 = bytes.fromhex(RFC8032["vectors"][0]["secret_key"])
SEED_2 = bytes.fromhex(RFC8032["vectors"][1]["secret_key"])


def public_key(seed: bytes, status: KeyStatus = "active") -> PublicKey:
    raw = public_raw(private_key_from_seed(seed))
    return PublicKey(key_id=key_id_for(raw), raw=raw, status=status)


def signed_code(seed: bytes, gtin: str = GTIN, lot: str = LOT, serial: str = SERIAL) -> LabelCode:
    key = private_key_from_seed(seed)
    digsig = sign_label(key, key_id_for(public_raw(key)), gtin, lot, serial)
    return parse_url(build_url(BASE, gtin, lot, serial, digsig))


def test_a_signed_label_verifies_and_names_its_key() -> None:
    keys = KeySet([public_key(SEED_1), public_key(SEED_2, "retired")])
    assert verify_label(signed_code(SEED_1), keys) == public_key(SEED_1)
    # Rotation: labels printed under a retired key keep verifying.
    assert verify_label(signed_code(SEED_2), keys).status == "retired"


@pytest.mark.parametrize(
    "tampered",
    [
        {"gtin": OTHER_GTIN},
        {"lot": LOT + "X"},
        {"serial": "000124"},
        {"lot": SERIAL, "serial": LOT},
    ],
)
def test_tampered_gtin_lot_or_serial_fails_with_bad_signature(tampered: dict[str, str]) -> None:
    code = signed_code(SEED_1)
    fields = {"gtin": code.gtin, "lot": code.lot, "serial": code.serial, **tampered}
    forged = LabelCode(key_id=code.key_id, signature=code.signature, **fields)
    with pytest.raises(SignatureError) as info:
        verify_label(forged, KeySet([public_key(SEED_1)]))
    assert info.value.reason == "bad_signature"
    assert public_key(SEED_1).kid in str(info.value)
    assert repr(forged.element_string) in str(info.value)


@HYPOTHESIS
@given(bit=st.integers(min_value=0, max_value=64 * 8 - 1))
def test_any_single_bit_flip_in_the_signature_is_rejected(bit: int) -> None:
    code = signed_code(SEED_1)
    flipped = bytearray(code.signature)
    flipped[bit // 8] ^= 1 << (bit % 8)
    forged = LabelCode(code.gtin, code.lot, code.serial, code.key_id, bytes(flipped))
    with pytest.raises(SignatureError):
        verify_label(forged, KeySet([public_key(SEED_1)]))


def test_a_signature_by_another_registry_key_fails() -> None:
    by_two = signed_code(SEED_2)
    claims_one = LabelCode(
        by_two.gtin, by_two.lot, by_two.serial, public_key(SEED_1).key_id, by_two.signature
    )
    with pytest.raises(SignatureError):
        verify_label(claims_one, KeySet([public_key(SEED_1), public_key(SEED_2)]))


def test_unknown_key_id_is_named() -> None:
    code = signed_code(SEED_2)
    with pytest.raises(UnknownKeyError) as info:
        verify_label(code, KeySet([public_key(SEED_1)]))
    assert info.value.reason == "unknown_key"
    assert info.value.actual == code.key_id.hex()
    assert info.value.expected == f"one of {public_key(SEED_1).kid}"


def test_revoked_key_makes_its_labels_fail_even_with_a_valid_signature() -> None:
    with pytest.raises(RevokedKeyError) as info:
        verify_label(signed_code(SEED_1), KeySet([public_key(SEED_1, "revoked")]))
    assert info.value.reason == "revoked_key"
    assert isinstance(info.value, VerificationError)


def test_a_remembered_signature_is_not_checked_again_and_only_successes_are_kept() -> None:
    keys, verified = KeySet([public_key(SEED_1)]), VerifiedSignatures(8)
    code = signed_code(SEED_1)
    assert verify_label(code, keys, verified=verified) == public_key(SEED_1)
    assert (verified.checked, verified.remembered, len(verified)) == (1, 0, 1)
    assert verify_label(code, keys, verified=verified) == public_key(SEED_1)
    assert (verified.checked, verified.remembered, len(verified)) == (2, 1, 1)
    forged = LabelCode(code.gtin, code.lot, "000124", code.key_id, code.signature)
    for _ in range(2):
        with pytest.raises(SignatureError):
            verify_label(forged, keys, verified=verified)
    assert (verified.checked, verified.remembered, len(verified)) == (4, 1, 1)


@HYPOTHESIS
@given(bit=st.integers(min_value=0, max_value=64 * 8 - 1))
def test_a_remembered_signature_vouches_for_no_other_signature(bit: int) -> None:
    keys, verified = KeySet([public_key(SEED_1)]), VerifiedSignatures(8)
    code = signed_code(SEED_1)
    verify_label(code, keys, verified=verified)
    flipped = bytearray(code.signature)
    flipped[bit // 8] ^= 1 << (bit % 8)
    forged = LabelCode(code.gtin, code.lot, code.serial, code.key_id, bytes(flipped))
    with pytest.raises(SignatureError):
        verify_label(forged, keys, verified=verified)


def test_a_remembered_signature_of_a_revoked_key_is_refused() -> None:
    verified, code = VerifiedSignatures(8), signed_code(SEED_1)
    verify_label(code, KeySet([public_key(SEED_1)]), verified=verified)
    with pytest.raises(RevokedKeyError):
        verify_label(code, KeySet([public_key(SEED_1, "revoked")]), verified=verified)


def test_remembered_signatures_are_bounded_and_the_oldest_forgotten() -> None:
    keys, verified = KeySet([public_key(SEED_1)]), VerifiedSignatures(2)
    codes = [signed_code(SEED_1, serial=f"{n:06d}") for n in range(5)]
    for code in codes:
        verify_label(code, keys, verified=verified)
        assert len(verified) <= 4
    assert len(verified) == 3  # {4} and {2, 3}
    verify_label(codes[0], keys, verified=verified)  # forgotten: checked again
    assert verified.remembered == 0
    verify_label(codes[2], keys, verified=verified)  # in the older generation, carried over
    verify_label(codes[2], keys, verified=verified)
    assert verified.remembered == 2
    with pytest.raises(ValueError, match="at least 1"):
        VerifiedSignatures(0)


@pytest.mark.parametrize("vector", RFC8032["vectors"], ids=lambda v: v["name"])
def test_rfc8032_vectors_verify(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["public_key"])
    keys = KeySet([PublicKey(key_id_for(raw), raw, "active")])
    message = bytes.fromhex(vector["message"])
    assert keys.verify(key_id_for(raw), message, bytes.fromhex(vector["signature"])).raw == raw


@pytest.mark.parametrize(
    "vector", RFC8032["derived_negative_vectors"]["vectors"], ids=lambda v: v["name"]
)
def test_rfc8032_bit_flips_are_rejected(vector: dict[str, Any]) -> None:
    assert vector["expect_valid"] is False
    raw = bytes.fromhex(vector["public_key"])
    keys = KeySet([PublicKey(key_id_for(raw), raw, "active")])
    with pytest.raises(SignatureError):
        keys.verify(
            key_id_for(raw), bytes.fromhex(vector["message"]), bytes.fromhex(vector["signature"])
        )


def test_jwk_matches_rfc8037_encoding_of_the_rfc8032_test1_key() -> None:
    # RFC 8037 appendix A.2 publishes this same key (RFC 8032 TEST 1) as a JWK.
    jwk = KeySet([public_key(SEED_1, "retired")]).to_jwks()["keys"][0]
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "kid": hashlib.sha256(bytes.fromhex(RFC8032["vectors"][0]["public_key"])).hexdigest()[:4],
        "status": "retired",
        "use": "sig",
        "alg": "EdDSA",
    }


def test_jwks_round_trips_through_json() -> None:
    keys = KeySet([public_key(SEED_2, "revoked"), public_key(SEED_1)])
    document = json.loads(json.dumps(keys.to_jwks()))
    loaded = KeySet.from_jwks(document)
    assert sorted(loaded, key=lambda k: k.key_id) == sorted(keys, key=lambda k: k.key_id)
    assert [k["kid"] for k in document["keys"]] == sorted(k["kid"] for k in document["keys"])


def test_signed_label_verifies_independently_with_plain_cryptography_and_the_jwks() -> None:
    """A platform with only the JWKS and any Ed25519 library can check our labels."""
    key = private_key_from_seed(SEED_1)
    url = build_url(
        BASE, GTIN, LOT, SERIAL, sign_label(key, key_id_for(public_raw(key)), GTIN, LOT, SERIAL)
    )
    jwks = json.dumps(KeySet([public_key(SEED_1), public_key(SEED_2)]).to_jwks())

    # From here on: only the standard library and cryptography, following DESIGN.md.
    parts = urlsplit(url)
    _, ai01, gtin, ai10, lot, ai21, serial = parts.path.split("/")
    assert (ai01, ai10, ai21) == ("01", "10", "21")
    raw = base64.urlsafe_b64decode(parse_qs(parts.query)["8030"][0] + "==")
    kid, sig = raw[:2].hex(), raw[2:]
    jwk = next(k for k in json.loads(jwks)["keys"] if k["kid"] == kid)
    x = base64.urlsafe_b64decode(jwk["x"] + "=")
    assert hashlib.sha256(x).digest()[:2].hex() == kid
    message = f"01{gtin}10{unquote(lot)}\x1d21{unquote(serial)}".encode("ascii")
    verifier = Ed25519PublicKey.from_public_bytes(x)
    verifier.verify(sig, message)
    with pytest.raises(InvalidSignature):
        verifier.verify(sig, message.replace(b"\x1d", b""))


@HYPOTHESIS
@given(
    seed=st.binary(min_size=32, max_size=32),
    message=st.binary(max_size=120),
    flip=st.one_of(st.none(), st.integers(0, 64 * 8 - 1)),
)
def test_libsodium_and_openssl_agree_on_every_signature(
    seed: bytes, message: bytes, flip: int | None
) -> None:
    # Labels are signed with `cryptography` (OpenSSL) and checked with PyNaCl (libsodium):
    # a signature, intact or with one bit flipped, gets the same answer from both.
    private = Ed25519PrivateKey.from_private_bytes(seed)
    signature = bytearray(private.sign(message))
    if flip is not None:
        signature[flip // 8] ^= 1 << (flip % 8)
    key = PublicKey(
        key_id=key_id_for(public_raw(private)), raw=public_raw(private), status="active"
    )
    try:
        private.public_key().verify(bytes(signature), message)
        openssl = True
    except InvalidSignature:
        openssl = False
    try:
        KeySet([key]).verify(key.key_id, message, bytes(signature))
        libsodium = True
    except SignatureError:
        libsodium = False
    assert libsodium is openssl is (flip is None)


def test_public_key_refuses_a_key_id_that_breaks_the_sha256_rule() -> None:
    good = public_key(SEED_1)
    with pytest.raises(KeySetError) as info:
        PublicKey(key_id=bytes([good.key_id[0] ^ 1, good.key_id[1]]), raw=good.raw, status="active")
    assert info.value.expected == good.kid


def test_key_set_refuses_duplicate_key_ids() -> None:
    with pytest.raises(KeySetError, match="share"):
        KeySet([public_key(SEED_1), public_key(SEED_1, "revoked")])


def _jwk(**changes: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = dict(public_key(SEED_1).to_jwk())
    for name, value in changes.items():
        if value is None:
            del jwk[name]
        else:
            jwk[name] = value
    return jwk


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"keys": {}},
        {"keys": ["not an object"]},
        {"keys": [_jwk(kty="RSA")]},
        {"keys": [_jwk(crv="X25519")]},
        {"keys": [_jwk(x=None)]},
        {"keys": [_jwk(x=_jwk()["x"] + "=")]},
        {"keys": [_jwk(x=_jwk()["x"][:-2])]},
        {"keys": [_jwk(x=_jwk()["x"].replace("_", "/"))]},
        {"keys": [_jwk(kid="0000")]},
        {"keys": [_jwk(kid=_jwk()["kid"].upper())]},
        {"keys": [_jwk(kid=None)]},
        {"keys": [_jwk(status="expired")]},
        {"keys": [_jwk(status=None)]},
        {"keys": [_jwk(use="enc")]},
        {"keys": [_jwk(alg="ES256")]},
        {"keys": [_jwk(), _jwk(status="revoked")]},
    ],
)
def test_from_jwks_refuses_malformed_documents(document: object) -> None:
    with pytest.raises(KeySetError) as info:
        KeySet.from_jwks(document)
    assert info.value.reason == "malformed_keys"


def test_from_jwks_ignores_unknown_members_and_accepts_missing_use_and_alg() -> None:
    loaded = KeySet.from_jwks({"keys": [_jwk(use=None, alg=None, x5c=[], note="hi")]})
    assert list(loaded) == [public_key(SEED_1)]


def test_generated_keys_verify_through_the_published_jwks() -> None:
    key = Ed25519PrivateKey.generate()
    raw = public_raw(key)
    digsig = sign_label(key, key_id_for(raw), GTIN, LOT, SERIAL)
    keys = KeySet.from_jwks(KeySet([PublicKey(key_id_for(raw), raw, "active")]).to_jwks())
    assert verify_label(parse_url(build_url(BASE, GTIN, LOT, SERIAL, digsig)), keys).raw == raw
