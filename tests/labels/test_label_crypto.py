"""Label signing keys: RFC 8032 behaviour, encrypted storage, and the AI 8030 signature."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.codes.digital_link import build_url, decode_digsig, parse_url
from registry.codes.errors import CodeFormatError, KeySetError
from registry.codes.signature import KeySet, PublicKey, verify_label
from registry.labels.crypto import (
    KeyDecryptionError,
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
    key_id_for,
    private_key_from_seed,
    public_raw,
    sign_label,
    sign_message,
)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PASSPHRASE = "correct horse battery staple"
GTIN = "09506000134352"


def asset(name: str) -> Any:
    """A checked-in JSON test vector from tests/assets/."""
    return json.loads((ASSETS / name).read_text(encoding="utf-8"))


RFC8032 = asset("ed25519-rfc8032.json")
VECTORS = RFC8032["vectors"]
NEGATIVE = RFC8032["derived_negative_vectors"]["vectors"]
SEED_1 = bytes.fromhex(VECTORS[0]["secret_key"])


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_rfc8032_public_key_derivation(vector: dict[str, Any]) -> None:
    key = private_key_from_seed(bytes.fromhex(vector["secret_key"]))
    assert public_raw(key).hex() == vector["public_key"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_rfc8032_signatures_are_reproduced_byte_for_byte(vector: dict[str, Any]) -> None:
    key = private_key_from_seed(bytes.fromhex(vector["secret_key"]))
    signature = sign_message(key, bytes.fromhex(vector["message"]))
    assert signature.hex() == vector["signature"]


@pytest.mark.parametrize("vector", NEGATIVE, ids=lambda v: v["name"])
def test_rfc8032_bit_flipped_cases_are_not_what_we_sign(vector: dict[str, Any]) -> None:
    """Each negative case differs from TEST 2 by one bit; our key/signature never match it."""
    key = private_key_from_seed(bytes.fromhex(VECTORS[1]["secret_key"]))
    produced = (public_raw(key), sign_message(key, bytes.fromhex(vector["message"])))
    claimed = (bytes.fromhex(vector["public_key"]), bytes.fromhex(vector["signature"]))
    assert produced != claimed


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        private_key_from_seed(SEED_1[:31])


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_key_id_is_first_two_bytes_of_sha256_of_the_raw_public_key(
    vector: dict[str, Any],
) -> None:
    raw = bytes.fromhex(vector["public_key"])
    assert key_id_for(raw) == hashlib.sha256(raw).digest()[:2]


def test_key_id_refuses_a_non_raw_public_key() -> None:
    with pytest.raises(KeySetError):
        key_id_for(b"\x00" * 33)


def test_generated_keys_are_distinct_ed25519_keys() -> None:
    one, two = generate_private_key(), generate_private_key()
    assert isinstance(one, Ed25519PrivateKey)
    assert public_raw(one) != public_raw(two)
    assert len(public_raw(one)) == 32


def test_encrypted_key_round_trips_and_hides_the_secret() -> None:
    key = private_key_from_seed(SEED_1)
    blob = encrypt_private_key(key, PASSPHRASE)
    assert blob.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert SEED_1 not in blob
    assert base64.b64encode(SEED_1)[:20] not in blob
    restored = decrypt_private_key(blob, PASSPHRASE)
    assert public_raw(restored) == public_raw(key)
    assert sign_message(restored, b"m") == sign_message(key, b"m")


def test_wrong_passphrase_raises_key_decryption_error() -> None:
    blob = encrypt_private_key(generate_private_key(), PASSPHRASE)
    with pytest.raises(KeyDecryptionError, match="passphrase"):
        decrypt_private_key(blob, PASSPHRASE + "!")


def test_damaged_blob_raises_key_decryption_error() -> None:
    lines = encrypt_private_key(generate_private_key(), PASSPHRASE).splitlines()
    body = lines[len(lines) // 2]
    lines[len(lines) // 2] = body[:10] + (b"B" if body[10:11] == b"A" else b"A") + body[11:]
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(b"\n".join(lines) + b"\n", PASSPHRASE)


def test_unencrypted_key_is_refused() -> None:
    plain = generate_private_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(plain, PASSPHRASE)


def test_non_ed25519_key_is_refused() -> None:
    blob = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    with pytest.raises(KeyDecryptionError, match="Ed25519"):
        decrypt_private_key(blob, PASSPHRASE)


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(ValueError, match="passphrase"):
        encrypt_private_key(generate_private_key(), "")


def test_sign_label_signs_the_gs1_element_string_independently_checked() -> None:
    key = private_key_from_seed(SEED_1)
    key_id = key_id_for(public_raw(key))
    digsig = sign_label(key, key_id, GTIN, "ABC/1", "0001")

    # Computed with cryptography alone, from DESIGN.md's definition of the label signature.
    message = b"01" + GTIN.encode() + b"10ABC/1" + b"\x1d" + b"21" + b"0001"
    reference = Ed25519PrivateKey.from_private_bytes(SEED_1).sign(message)
    assert digsig == base64.urlsafe_b64encode(key_id + reference).decode().rstrip("=")
    assert len(digsig) == 88
    assert decode_digsig(digsig) == (key_id, reference)


def test_sign_label_uses_the_14_digit_gtin_for_shorter_forms() -> None:
    key = private_key_from_seed(SEED_1)
    key_id = key_id_for(public_raw(key))
    assert sign_label(key, key_id, GTIN[1:], "L", "S") == sign_label(key, key_id, GTIN, "L", "S")


def test_sign_label_refuses_a_key_id_of_another_key() -> None:
    key = private_key_from_seed(SEED_1)
    other_id = key_id_for(public_raw(generate_private_key()))
    with pytest.raises(ValueError, match="does not belong"):
        sign_label(key, other_id, GTIN, "L", "S")


@pytest.mark.parametrize(
    ("gtin", "lot", "serial"),
    [("09506000134353", "L", "S"), (GTIN, "L#", "S"), (GTIN, "L", ""), (GTIN, "L", "S" * 21)],
)
def test_sign_label_refuses_malformed_codes(gtin: str, lot: str, serial: str) -> None:
    key = private_key_from_seed(SEED_1)
    with pytest.raises(CodeFormatError):
        sign_label(key, key_id_for(public_raw(key)), gtin, lot, serial)


def test_label_signed_with_a_restored_key_verifies_end_to_end() -> None:
    stored = encrypt_private_key(generate_private_key(), PASSPHRASE)
    key = decrypt_private_key(stored, PASSPHRASE)
    raw = public_raw(key)
    digsig = sign_label(key, key_id_for(raw), GTIN, "2025-A", "42")
    url = build_url("http://127.0.0.1:8000", GTIN, "2025-A", "42", digsig)
    keys = KeySet([PublicKey(key_id_for(raw), raw, "active")])
    assert verify_label(parse_url(url), keys).raw == raw


def test_a_stored_key_of_another_type_is_named() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    blob = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    with pytest.raises(KeyDecryptionError) as caught:
        decrypt_private_key(blob, PASSPHRASE)
    assert f"is {type(other).__name__}," in str(caught.value)


def test_a_non_ascii_passphrase_round_trips() -> None:
    key = private_key_from_seed(SEED_1)
    restored = decrypt_private_key(encrypt_private_key(key, "口令 pässword"), "口令 pässword")
    assert public_raw(restored) == public_raw(key)
