"""Label signature checks against the registry's published Ed25519 keys (JWKS).

Pure: no framework or database. Signatures are checked with libsodium (PyNaCl), which
verifies Ed25519 in half the time OpenSSL (`cryptography`) takes on this project's machines
(a scan's largest single cost; docs/decisions.md); keys are made and labels signed with
`cryptography`, and the tests hold each against the other. The key id rule (first 2 bytes of
SHA-256 of the raw public key) lives here, next to the format it checks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeGuard, get_args

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from registry.codes.digital_link import KEY_ID_LENGTH, LabelCode
from registry.codes.errors import (
    KeySetError,
    RevokedKeyError,
    SignatureError,
    UnknownKeyError,
)

KeyStatus = Literal["active", "retired", "revoked"]
KEY_STATUSES: tuple[str, ...] = get_args(KeyStatus)
PUBLIC_KEY_LENGTH = 32

_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")


def key_id_for(public_raw: bytes) -> bytes:
    """The 2-byte key id of a raw 32-byte Ed25519 public key: SHA-256(public_raw)[:2]."""
    if len(public_raw) != PUBLIC_KEY_LENGTH:
        raise KeySetError(
            "Ed25519 public key has the wrong length",
            expected=f"{PUBLIC_KEY_LENGTH} bytes",
            actual=f"{len(public_raw)} bytes",
        )
    return hashlib.sha256(public_raw).digest()[:KEY_ID_LENGTH]


@dataclass(frozen=True)
class PublicKey:
    """A published label key. Construction guarantees `key_id == key_id_for(raw)`."""

    key_id: bytes
    raw: bytes
    status: KeyStatus

    def __post_init__(self) -> None:
        expected = key_id_for(self.raw)
        if self.key_id != expected:
            raise KeySetError(
                "key id does not match SHA-256 of the public key",
                expected=expected.hex(),
                actual=self.key_id.hex(),
            )
        if self.status not in KEY_STATUSES:
            raise KeySetError(
                "unknown key status", expected=" / ".join(KEY_STATUSES), actual=str(self.status)
            )

    @property
    def kid(self) -> str:
        """The key id as 4 lowercase hex characters, as published in the JWKS."""
        return self.key_id.hex()

    def to_jwk(self) -> dict[str, str]:
        """This key as an RFC 8037 OKP JWK with the registry's `status` member."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(self.raw),
            "kid": self.kid,
            "status": self.status,
            "use": "sig",
            "alg": "EdDSA",
        }


class KeySet:
    """The registry's label public keys by key id.

    Refuses two keys with the same key id. Immutable after construction, so one instance
    can be shared by concurrent verifications.
    """

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        self._keys: dict[bytes, PublicKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise KeySetError(f"two keys share key id {key.kid}")
            self._keys[key.key_id] = key

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[PublicKey]:
        return iter(self._keys.values())

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def get(self, key_id: bytes) -> PublicKey | None:
        """The key with this id, or None."""
        return self._keys.get(key_id)

    @classmethod
    def from_jwks(cls, document: object) -> KeySet:
        """Load a JWKS document `{"keys": [...]}` as published by the registry.

        Each JWK must be an Ed25519 OKP key (`kty`, `crv`, `x`) with a `kid` of 4 hex
        characters equal to SHA-256(x)[:2] and a `status`; `use` and `alg`, when present,
        must be `sig` and `EdDSA`. Unknown members are ignored (RFC 7517 section 4). Raises
        `KeySetError` naming the offending key for anything else.
        """
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise KeySetError("JWKS must be an object with a `keys` array")
        return cls(_key_from_jwk(jwk, index) for index, jwk in enumerate(document["keys"]))

    def to_jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWKS document `{"keys": [...]}`, keys sorted by kid so the output is stable."""
        return {"keys": [key.to_jwk() for key in sorted(self, key=lambda k: k.key_id)]}

    def verify(
        self,
        key_id: bytes,
        message: bytes,
        signature: bytes,
        *,
        verified: VerifiedSignatures | None = None,
    ) -> PublicKey:
        """Check an Ed25519 `signature` over `message` by the key `key_id`; return that key.

        Raises `UnknownKeyError` if the id is not in the set, `RevokedKeyError` if the key is
        revoked (checked first: a revoked key's signatures prove nothing), and
        `SignatureError` if the signature does not verify. Returning means all three passed.
        With `verified`, a signature that verified before under the same public key is not
        checked again (the key's status still is), and one that verifies now is remembered.
        """
        key = self._keys.get(key_id)
        if key is None:
            known = ", ".join(sorted(k.kid for k in self)) or "(no keys)"
            raise UnknownKeyError(
                f"no published key has id {key_id.hex()}",
                expected=f"one of {known}",
                actual=key_id.hex(),
            )
        if key.status == "revoked":
            raise RevokedKeyError(
                f"key {key.kid} has been revoked", expected="active or retired", actual="revoked"
            )
        signed = signature + message  # a signed message: signature first
        entry = b""
        if verified is not None:
            entry = key.raw + signed
            if verified.seen(entry):
                return key
        try:
            crypto_sign_open(signed, key.raw)
        except BadSignatureError:
            raise SignatureError(
                f"signature does not verify under key {key.kid} for message {message!r}",
                expected=f"an Ed25519 signature by key {key.kid}",
                actual=signature.hex(),
            ) from None
        if verified is not None:
            verified.remember(entry)
        return key


class VerifiedSignatures:
    """Signed messages that verified, remembered exactly (public key, signature and message
    bytes, compared in full), so that the same label scanned again (a phone reloading the
    page or switching its language, a household's second phone) is not verified again: the
    Ed25519 check is a scan's largest cost. Only successes are kept, so a forged or altered
    code is always checked; the key's status is checked on every call (KeySet.verify).

    Bounded: two generations of at most `size` entries each; when the newer is full it
    becomes the older and the older is forgotten, and a remembered entry found in the older
    is carried into the newer. One event loop uses one (not locked across threads). An
    entry is the public key's 32 raw bytes, then the signed message (the 64-byte signature,
    then the message), made once per check by `KeySet.verify`.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._newer: set[bytes] = set()
        self._older: set[bytes] = set()
        self.checked = 0  # lookups
        self.remembered = 0  # lookups answered from memory

    def seen(self, entry: bytes) -> bool:
        self.checked += 1
        if entry in self._newer:
            self.remembered += 1
            return True
        if entry in self._older:
            self.remembered += 1
            self.remember(entry)
            return True
        return False

    def remember(self, entry: bytes) -> None:
        if len(self._newer) >= self.size:
            self._older, self._newer = self._newer, set()
        self._newer.add(entry)

    def __len__(self) -> int:
        return len(self._newer) + len(self._older)


def verify_label(
    code: LabelCode, keys: KeySet, *, verified: VerifiedSignatures | None = None
) -> PublicKey:
    """Verify a label's AI 8030 signature over its element string; return the signing key.

    Raises `UnknownKeyError`, `RevokedKeyError` or `SignatureError` (all `VerificationError`
    with a `reason`); returning means the code was signed by a non-revoked registry key.
    `verified`: see `VerifiedSignatures`.
    """
    return keys.verify(code.key_id, code.element_string, code.signature, verified=verified)


def _key_from_jwk(jwk: object, index: int) -> PublicKey:
    where = f"JWKS key {index}"
    if not isinstance(jwk, dict):
        raise KeySetError(f"{where} is not an object")
    for member, value in (("kty", "OKP"), ("crv", "Ed25519")):
        if jwk.get(member) != value:
            raise KeySetError(
                f"{where} is not an Ed25519 key",
                expected=f"{member}={value}",
                actual=repr(jwk.get(member)),
            )
    for member, value in (("use", "sig"), ("alg", "EdDSA")):
        if member in jwk and jwk[member] != value:
            raise KeySetError(
                f"{where} has the wrong {member}", expected=value, actual=repr(jwk[member])
            )
    raw = _b64url_decode(jwk.get("x"), where)
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not re.fullmatch(r"[0-9a-f]{4}", kid):
        raise KeySetError(
            f"{where} has a bad kid", expected="4 lowercase hex characters", actual=repr(kid)
        )
    status = jwk.get("status")
    if not _is_status(status):
        raise KeySetError(
            f"{where} has an unknown status",
            expected=" / ".join(KEY_STATUSES),
            actual=repr(status),
        )
    try:
        return PublicKey(key_id=bytes.fromhex(kid), raw=raw, status=status)
    except KeySetError as exc:
        raise KeySetError(
            f"{where} (kid {kid}): {exc.message}", expected=exc.expected, actual=exc.actual
        ) from exc


def _is_status(value: object) -> TypeGuard[KeyStatus]:
    return value in KEY_STATUSES


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(value: object, where: str) -> bytes:
    if not isinstance(value, str) or not _B64URL_RE.fullmatch(value) or len(value) % 4 == 1:
        raise KeySetError(f"{where} has an `x` that is not base64url without padding")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeySetError(f"{where} has an `x` that does not decode: {exc}") from exc
    if len(raw) != PUBLIC_KEY_LENGTH or _b64url(raw) != value:
        raise KeySetError(
            f"{where} has an `x` of the wrong size",
            expected=f"{PUBLIC_KEY_LENGTH} bytes in canonical base64url",
            actual=f"{len(raw)} bytes",
        )
    return raw
