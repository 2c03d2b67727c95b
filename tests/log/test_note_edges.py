"""Signed notes and checkpoints at their edges: malformed keys, notes and checkpoints are
refused naming what is wrong, and the limits of the format hold exactly. Pure: no database."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.log import note

SIGNER = note.Signer("log.eXample/a", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
OTHER = note.Signer("witness.example", Ed25519PrivateKey.from_private_bytes(bytes(32)))
ROOT = base64.b64encode(bytes(range(32))).decode()


def refused(match: str, call: object, *args: object) -> str:
    with pytest.raises(note.NoteError, match=match) as caught:
        call(*args)  # type: ignore[operator]
    return str(caught.value)


def vkey(name: str, raw: bytes, hex_id: str | None = None) -> str:
    hex_id = note.key_id(name, raw[1:]).hex() if hex_id is None else hex_id
    return f"{name}+{hex_id}+{base64.b64encode(raw).decode()}"


def test_a_verifier_key_round_trips_and_names_are_checked() -> None:
    v = SIGNER.verifier
    assert note.parse_vkey(v.vkey) == v
    assert note.parse_vkey(f"  {v.vkey}\n") == v
    public = bytes([note.ED25519]) + v.public_key
    for name in ("a b", "a\tb", "a\u2028b"):
        refused("key name", note.parse_vkey, vkey(name, public))
    refused("key name '' is empty", note.parse_vkey, vkey("", public))


def test_a_verifier_key_of_another_type_or_length_is_refused() -> None:
    public = SIGNER.verifier.public_key
    cosigner = bytes([0x04]) + public  # a cosignature key, id made as if it were ours
    assert refused("0x01 followed", note.parse_vkey, vkey("w", cosigner)).endswith(
        "got 33 bytes of type 0x04"
    )
    long = bytes([note.ED25519]) + public + b"\x00"
    assert refused("0x01 followed", note.parse_vkey, vkey("w", long)).endswith(
        "got 34 bytes of type 0x01"
    )
    assert refused("0x01 followed", note.parse_vkey, "w+00000000+").endswith(
        "got 0 bytes of type 0x??"
    )


def test_a_verifier_key_id_must_be_lowercase_hex_and_match() -> None:
    raw = bytes([note.ED25519]) + SIGNER.verifier.public_key
    right = note.key_id("w", raw[1:]).hex()
    for bad in (right.upper(), right + "0", right[:7], right[:7] + "X"):
        assert bad in refused("8 lowercase hex", note.parse_vkey, vkey("w", raw, bad))
    message = refused("does not match", note.parse_vkey, vkey("w", raw, "0" * 8))
    assert (f"{'0' * 8}" in message, right in message) == (True, True)
    refused("<name>\\+<hex id>\\+<base64 key>", note.parse_vkey, "w+" + right)


def test_base64_is_strict() -> None:
    good = SIGNER.verifier.vkey
    name, hex_id, encoded = good.split("+", 2)
    spoilt = f"{name}+{hex_id}+{encoded[:10]}*{encoded[10:]}"
    assert "*" in refused("verifier key is not valid base64", note.parse_vkey, spoilt)


def signer_key(name: str, raw: bytes, prefix: str = "PRIVATE+KEY") -> str:
    seed_signer = note.Signer(name, Ed25519PrivateKey.from_private_bytes(raw[1:33]))
    hex_id = seed_signer.verifier.key_id.hex()
    return f"{prefix}+{name}+{hex_id}+{base64.b64encode(raw).decode()}"


def test_signer_keys_are_checked_like_verifier_keys() -> None:
    seed = bytes([note.ED25519]) + bytes(range(32))
    signer = note.parse_signer_key(signer_key("log.eXample/a", seed))
    assert signer.verifier == SIGNER.verifier
    refused("PRIVATE\\+KEY", note.parse_signer_key, signer_key("a", seed, "PUBLIC+KEY"))
    refused("PRIVATE\\+KEY", note.parse_signer_key, "PRIVATE+KEY+a+0000")
    refused("signer key must be 0x01", note.parse_signer_key, signer_key("a", b"\x04" + seed[1:]))
    refused("signer key must be 0x01", note.parse_signer_key, signer_key("a", seed + b"\x00"))
    refused("signer key is not valid base64", note.parse_signer_key, "PRIVATE+KEY+a+00+*")
    refused("key name", note.parse_signer_key, signer_key("a b", seed))
    wrong_id = signer_key("a", seed).rsplit("+", 2)
    message = refused(
        "does not match", note.parse_signer_key, f"{wrong_id[0]}+00000000+{wrong_id[2]}"
    )
    assert wrong_id[1] in message


def test_note_text_must_end_in_a_newline_and_hold_no_control_characters() -> None:
    refused("end with a newline", note.sign, "no newline", SIGNER)
    for bad in ("a\x01b\n", "a\x7fb\n", "a\rb\n", "\tx\n"):
        refused("control characters", note.sign, bad, SIGNER)
    assert note.sign("a\u00e9\u4e2d\n", SIGNER).startswith("a\u00e9\u4e2d\n\n")


def test_two_signers_sign_one_line_each() -> None:
    signed = note.sign("hello\n", SIGNER, OTHER)
    text, lines = signed.split("\n\n")
    assert text == "hello"
    assert [line.split(" ")[1] for line in lines.splitlines()] == [SIGNER.name, OTHER.name]
    assert signed.endswith("\n")
    assert signed.count("\n") == 4
    assert note.open_note(signed, [SIGNER.verifier, OTHER.verifier]) == (
        "hello\n",
        {SIGNER.name: "verified", OTHER.name: "verified"},
    )
    assert note.open_note(signed, [OTHER.verifier]) == (
        "hello\n",
        {SIGNER.name: "ignored_unknown_key", OTHER.name: "verified"},
    )


def test_the_signatures_follow_the_last_blank_line() -> None:
    signed = note.sign("a\n\nb\n", SIGNER)
    assert note.open_note(signed, [SIGNER.verifier])[0] == "a\n\nb\n"
    only_blank = note.sign("\n", SIGNER)
    text, sigs = note.split_note(only_blank)
    assert (text, [s.name for s in sigs]) == ("\n", [SIGNER.name])
    refused("blank line", note.split_note, "text\n— a AAAAAAA=\n")
    refused("signature lines must end with a newline", note.split_note, "t\n\n— a AAAAAAA=")
    assert "'x a AAAAAAA='" in refused("em dash", note.split_note, "t\n\nx a AAAAAAA=\n")
    refused("no key name", note.split_note, "t\n\n— AAAAAAA=\n")
    refused("key name", note.split_note, "t\n\n— a+b AAAAAAA=\n")
    refused("signature is not valid base64", note.split_note, "t\n\n— a AA*AAAA=\n")


def test_a_signature_holds_a_key_id_and_at_least_one_byte() -> None:
    five = base64.b64encode(b"\x01\x02\x03\x04\x05").decode()
    four = base64.b64encode(b"\x01\x02\x03\x04").decode()
    _, (sig,) = note.split_note(f"t\n\n— a {five}\n")
    assert (sig.name, sig.key_id, sig.signature) == ("a", b"\x01\x02\x03\x04", b"\x05")
    assert "a is too short (4 bytes)" in refused("too short", note.split_note, f"t\n\n— a {four}\n")


def test_a_note_carries_at_most_a_hundred_signatures() -> None:
    line = f"— a {base64.b64encode(bytes(9)).decode()}\n"
    _, sigs = note.split_note("t\n\n" + line * 100)
    assert len(sigs) == 100
    refused("at most 100 signatures", note.split_note, "t\n\n" + line * 101)


def test_a_note_without_a_known_signature_names_both_sides() -> None:
    signed = note.sign("t\n", OTHER)
    found = f"{OTHER.name}+{OTHER.verifier.key_id.hex()}"
    assert f"(expected none; found {found})" in refused("no signature", note.open_note, signed, [])
    expected = f"{SIGNER.name}+{SIGNER.verifier.key_id.hex()}"
    two = note.sign("t\n", OTHER, note.Signer("z", OTHER.private_key))
    found_both = f"{found}, z+{note.key_id('z', OTHER.verifier.public_key).hex()}"
    message = refused("no signature", note.open_note, two, [SIGNER.verifier, SIGNER.verifier])
    assert f"(expected {expected}, {expected}; found {found_both})" in message
    tampered = note.sign("t\n", SIGNER).replace("t\n", "u\n", 1)
    assert SIGNER.name in refused("does not verify", note.open_note, tampered, [SIGNER.verifier])


def checkpoint(size: str = "7", *extensions: str, origin: str = "log.eXample/a") -> str:
    return "".join(f"{line}\n" for line in (origin, size, ROOT, *extensions))


def test_checkpoints_keep_their_extensions_and_size_zero() -> None:
    cp = note.parse_checkpoint(checkpoint("0", "ext one", "ext two"))
    assert (cp.origin, cp.size, cp.root, cp.extensions) == (
        "log.eXample/a",
        0,
        bytes(range(32)),
        ("ext one", "ext two"),
    )
    assert cp.text() == checkpoint("0", "ext one", "ext two")
    assert note.parse_checkpoint(checkpoint("10")).size == 10


def test_malformed_checkpoints_name_what_is_wrong() -> None:
    refused("end with a newline", note.parse_checkpoint, checkpoint().rstrip("\n"))
    assert "got 2 lines" in refused("origin, size and root", note.parse_checkpoint, "o\n1\n")
    refused("origin is empty", note.parse_checkpoint, checkpoint(origin=""))
    for size in ("01", "x", "1a", "-1", "\u0661", ""):
        assert repr(size) in refused("decimal", note.parse_checkpoint, checkpoint(size))
    refused("checkpoint root is not valid base64", note.parse_checkpoint, "o\n1\n*\n")
    assert "got 3" in refused("32 bytes", note.parse_checkpoint, "o\n1\nAAAA\n")
    refused("extension lines", note.parse_checkpoint, checkpoint("1", "x", ""))
    message = refused("expected", lambda: note.parse_checkpoint(checkpoint(), origin="other"))
    assert ("'log.eXample/a'" in message, "'other'" in message) == (True, True)


def test_open_checkpoint_needs_the_logs_own_signature_and_origin() -> None:
    signed = note.sign(checkpoint("5"), SIGNER)
    cp = note.open_checkpoint(signed, SIGNER.verifier)
    assert (cp.origin, cp.size) == (SIGNER.name, 5)
    refused("no signature", note.open_checkpoint, signed, OTHER.verifier)
    by_other = note.sign(checkpoint("5", origin="elsewhere"), SIGNER)
    refused("elsewhere", note.open_checkpoint, by_other, SIGNER.verifier)
