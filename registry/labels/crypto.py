"""Label signing keys: Ed25519 key generation, encrypted storage, and signing label codes.

Only `cryptography` plus the registry's own label format (`registry.verify`), so the code
format and key id rule have one definition shared by signer and verifier.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.codes.digital_link import element_string, encode_digsig
from registry.codes.signature import key_id_for

__all__ = [
    "KeyDecryptionError",
    "decrypt_private_key",
    "encrypt_private_key",
    "generate_private_key",
    "key_id_for",
    "private_key_from_seed",
    "public_raw",
    "sign_label",
    "sign_message",
]


class KeyDecryptionError(Exception):
    """A stored label private key could not be decrypted (wrong passphrase or damaged data)."""


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key from the operating system's CSPRNG."""
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """The Ed25519 private key for a 32-byte RFC 8032 secret (seed); raises ValueError otherwise."""
    if len(seed) != 32:
        raise ValueError(f"Ed25519 secret must be 32 bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_raw(private_key: Ed25519PrivateKey) -> bytes:
    """The 32-byte raw (RFC 8032 encoded) public key of `private_key`."""
    return private_key.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )


def encrypt_private_key(private_key: Ed25519PrivateKey, passphrase: str) -> bytes:
    """The key as encrypted PKCS#8 PEM (the library's best available scheme) under `passphrase`.

    Raises ValueError for an empty passphrase: an unencrypted key must never be stored.
    """
    if not passphrase:
        raise ValueError("a label key passphrase must not be empty")
    return private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )


def decrypt_private_key(blob: bytes, passphrase: str) -> Ed25519PrivateKey:
    """Load a key written by `encrypt_private_key`.

    Raises `KeyDecryptionError` if the passphrase is wrong, the blob is damaged or not
    encrypted, or it holds something other than an Ed25519 private key.
    """
    try:
        key = serialization.load_pem_private_key(blob, password=passphrase.encode("utf-8"))
    except (ValueError, TypeError) as exc:
        # cryptography reports a wrong passphrase and corrupt data alike as ValueError, and
        # an unencrypted PEM given a password as TypeError.
        raise KeyDecryptionError(
            "could not decrypt the label private key: wrong passphrase, or the stored key "
            "is damaged or not encrypted"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyDecryptionError(
            f"stored label key is {type(key).__name__}, expected an Ed25519 private key"
        )
    return key


def sign_message(private_key: Ed25519PrivateKey, message: bytes) -> bytes:
    """The 64-byte Ed25519 (RFC 8032, pure) signature of `message`; deterministic."""
    return private_key.sign(message)


def sign_label(
    private_key: Ed25519PrivateKey, key_id: bytes, gtin: str, lot: str, serial: str
) -> str:
    """The AI 8030 value (88 characters) signing the label's GS1 element string.

    Signs `01{gtin14}10{lot}<GS>21{serial}`. Raises ValueError if `key_id` is not the id of
    this key (a mismatch would print labels that never verify) and `CodeFormatError` for a
    bad GTIN, lot or serial.
    """
    expected = key_id_for(public_raw(private_key))
    if key_id != expected:
        raise ValueError(
            f"key id {key_id.hex()} does not belong to this private key (its id is "
            f"{expected.hex()})"
        )
    return encode_digsig(key_id, sign_message(private_key, element_string(gtin, lot, serial)))
