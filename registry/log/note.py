"""C2SP signed-note v1.0.0 and tlog-checkpoint v1.0.0 with Ed25519 keys.

Pure: only `cryptography` for Ed25519. A verifier key is `<name>+<8 hex key id>+<base64(
0x01 || 32-byte public key)>`, the key id being SHA-256(name || 0x0A || 0x01 || key)[:4].
A signed note is its text (ending in a newline), a blank line, then one line per signature
`— <name> <base64(key id || signature)>`. Verification follows the spec: signatures from
unknown keys are ignored, a known key's bad signature rejects the note, and a note with no
verified known signature is rejected. Errors are `NoteError` with expected vs actual.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
_DASH = "\u2014 "
_MAX_SIGNATURES = 100


class NoteError(Exception):
    """A key, note or checkpoint is malformed or did not verify."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64: {text!r}") from exc


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "+ \n\t") or not name.isprintable():
        raise NoteError(
            f"key name {name!r} is empty or holds '+', whitespace or control characters"
        )


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte id of an Ed25519 note key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: bytes

    @property
    def vkey(self) -> str:
        """The verifier key string `<name>+<hex id>+<base64 key>`."""
        encoded = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_vkey(vkey: str) -> Verifier:
    """Parse a verifier key string; raises NoteError if it is malformed or its id is wrong.

    Split on '+' at most twice: the base64 key itself may contain '+'."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError(f"verifier key must be <name>+<hex id>+<base64 key>, got {vkey!r}")
    name, hex_id, encoded = parts
    _check_name(name)
    if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
        raise NoteError(f"key id must be 8 lowercase hex characters, got {hex_id!r}")
    raw = _b64decode(encoded, "verifier key")
    if len(raw) != 33 or raw[0] != ED25519:
        raise NoteError(
            f"verifier key must be 0x01 followed by a 32-byte Ed25519 key, got {len(raw)} bytes "
            f"of type 0x{raw[:1].hex() or '??'}"
        )
    expected = key_id(name, raw[1:])
    if expected.hex() != hex_id:
        raise NoteError(f"key id {hex_id} does not match the key (expected {expected.hex()})")
    return Verifier(name=name, key_id=expected, public_key=raw[1:])


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return Verifier(name=self.name, key_id=key_id(self.name, public), public_key=public)


def parse_signer_key(skey: str) -> Signer:
    """Parse `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>` (golang.org/x/mod/sumdb/note)."""
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("signer key must be PRIVATE+KEY+<name>+<hex id>+<base64 key>")
    _, _, name, hex_id, encoded = parts
    _check_name(name)
    raw = _b64decode(encoded, "signer key")
    if len(raw) != 33 or raw[0] != ED25519:
        raise NoteError("signer key must be 0x01 followed by a 32-byte Ed25519 seed")
    signer = Signer(name=name, private_key=Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.verifier.key_id.hex() != hex_id:
        raise NoteError(
            f"key id {hex_id} does not match the key (expected {signer.verifier.key_id.hex()})"
        )
    return signer


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any((ord(c) < 0x20 and c != "\n") or c == "\x7f" for c in text):
        raise NoteError("note text must hold no control characters other than newline")


def sign(text: str, *signers: Signer) -> str:
    """The signed note: `text`, a blank line, one signature line per signer."""
    _check_text(text)
    lines = []
    for signer in signers:
        sig = signer.private_key.sign(text.encode())
        blob = base64.b64encode(signer.verifier.key_id + sig).decode()
        lines.append(f"{_DASH}{signer.name} {blob}\n")
    return text + "\n" + "".join(lines)


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[Signature]]:
    """The text and the signature lines of a signed note (nothing verified yet)."""
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("a signed note needs a blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    _check_text(text)
    if not block.endswith("\n"):
        raise NoteError("signature lines must end with a newline")
    sigs = []
    for line in block[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise NoteError(f"signature line must start with an em dash and a space: {line!r}")
        name, sep, encoded = line[len(_DASH) :].rpartition(" ")
        if not sep:
            raise NoteError(f"signature line has no key name: {line!r}")
        _check_name(name)
        raw = _b64decode(encoded, "signature")
        if len(raw) < 5:
            raise NoteError(f"signature of {name} is too short ({len(raw)} bytes)")
        sigs.append(Signature(name=name, key_id=raw[:4], signature=raw[4:]))
    if len(sigs) > _MAX_SIGNATURES:
        raise NoteError(f"a note may carry at most {_MAX_SIGNATURES} signatures")
    return text, sigs


def open_note(note: str, verifiers: list[Verifier]) -> tuple[str, dict[str, str]]:
    """Verify `note` against the known `verifiers`; return its text and, per signer name,
    `verified` or `ignored_unknown_key`. Raises NoteError if a known key's signature fails
    or no known key signed it."""
    text, sigs = split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    outcome: dict[str, str] = {}
    for sig in sigs:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            outcome[sig.name] = "ignored_unknown_key"
            continue
        if not verifier.verify(text.encode(), sig.signature):
            raise NoteError(
                f"signature of {sig.name} ({sig.key_id.hex()}) does not verify over the note"
            )
        outcome[sig.name] = "verified"
    if "verified" not in outcome.values():
        names = ", ".join(f"{v.name}+{v.key_id.hex()}" for v in verifiers) or "none"
        found = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in sigs)
        raise NoteError(f"no signature from a known key (expected {names}; found {found})")
    return text, outcome


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))


def parse_checkpoint(text: str, *, origin: str | None = None) -> Checkpoint:
    """Parse a checkpoint body; with `origin`, refuse a checkpoint of another log."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError(f"checkpoint needs origin, size and root lines, got {len(lines)} lines")
    name, size_text, root_text, *extensions = lines
    if not name:
        raise NoteError("checkpoint origin is empty")
    if origin is not None and name != origin:
        raise NoteError(f"checkpoint is for log {name!r}, expected {origin!r}")
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or (size_text.startswith("0") and size_text != "0")
    ):
        raise NoteError(f"checkpoint size must be a decimal without leading zeros: {size_text!r}")
    root = _b64decode(root_text, "checkpoint root")
    if len(root) != 32:
        raise NoteError(f"checkpoint root must be 32 bytes, got {len(root)}")
    if any(not line for line in extensions):
        raise NoteError("checkpoint extension lines must not be empty")
    return Checkpoint(origin=name, size=int(size_text), root=root, extensions=tuple(extensions))


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """Verify a signed checkpoint with the log's key; its origin must be the key's name."""
    text, _ = open_note(note, [verifier])
    return parse_checkpoint(text, origin=verifier.name)
