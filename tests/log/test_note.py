"""Signed notes and checkpoints against the C2SP / Go sumdb vectors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from registry.log import note
from tests.conftest import asset

VECTORS: dict[str, Any] = {
    v["id"]: v for v in json.loads(asset("signed-note.json").read_text())["vectors"]
}


def _verifiers(keys: list[str]) -> list[note.Verifier]:
    # Cosignature keys (type 0x04) are not Ed25519 note keys: not ours to verify.
    out = []
    for key in keys:
        raw = base64.b64decode(key.split("+", 2)[2])
        if raw[0] == note.ED25519:
            out.append(note.parse_vkey(key))
    return out


def _case(vector: dict[str, Any]) -> list[dict[str, Any]]:
    return vector.get("cases") or [vector]


@pytest.mark.parametrize(
    "vid",
    [
        "c2sp-signed-note-example",
        "go-note-open-two-signers",
        "sumdb-checkpoint",
        "sumdb-checkpoint-four-signers",
        "derived-tampered-text",
        "derived-checkpoint-size-bumped",
    ],
)
def test_open_notes(vid: str) -> None:
    vector = VECTORS[vid]
    for case in _case(vector):
        verifiers = _verifiers(case["verifier_keys"])
        if case["expect_accept"]:
            text, outcome = note.open_note(vector["note"], verifiers)
            assert outcome == case["expected"]
            if "expected_text" in vector:
                assert text == vector["expected_text"]
        else:
            with pytest.raises(note.NoteError):
                note.open_note(vector["note"], verifiers)


def test_key_ids_and_lookup() -> None:
    for name, hex_id in VECTORS["c2sp-signed-note-example"]["expected_key_ids"].items():
        (verifier,) = _verifiers(VECTORS["c2sp-signed-note-example"]["verifier_keys"])
        assert (verifier.name, verifier.key_id.hex()) == (name, hex_id)
    vector = VECTORS["go-note-key-lookup"]
    known = {(v.name, v.key_id.hex()) for v in _verifiers(vector["verifier_keys"])}
    for lookup in vector["lookups"]:
        assert ((lookup["name"], lookup["key_id"]) in known) == (lookup["expect"] == "found")


def test_vkey_round_trip_and_plus_in_base64() -> None:
    for key in VECTORS["sumdb-checkpoint-four-signers"]["cases"][0]["verifier_keys"]:
        assert note.parse_vkey(key).vkey == key


def test_sign_is_byte_for_byte_go() -> None:
    vector = VECTORS["go-note-sign"]
    signer = note.parse_signer_key(vector["signer_key"])
    assert signer.verifier.vkey == vector["verifier_keys"][0]
    assert note.sign(vector["text"], signer) == vector["expected_signed_note"]


def test_checkpoints_parse_and_check_origin() -> None:
    vector = VECTORS["sumdb-checkpoint"]
    (verifier,) = _verifiers(vector["verifier_keys"])
    text, _ = note.open_note(vector["note"], [verifier])
    want = vector["expected_checkpoint"]
    for check in vector["origin_check"]:
        if check["expect_accept"]:
            cp = note.parse_checkpoint(text, origin=check["expected_origin"])
            assert (cp.origin, cp.size, cp.root.hex()) == (
                want["origin"],
                want["tree_size"],
                want["root_hash_hex"],
            )
            assert cp.text() == text
        else:
            with pytest.raises(note.NoteError, match="expected"):
                note.parse_checkpoint(text, origin=check["expected_origin"])
    sofa = VECTORS["c2sp-checkpoint-example-parse-only"]
    body, sigs = note.split_note(sofa["note"])
    assert note.parse_checkpoint(body).size == sofa["expected_checkpoint"]["tree_size"]
    assert sigs[0].key_id.hex() == sofa["expected_signature_key_id"]


@pytest.mark.parametrize(
    "bad",
    [
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a",
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "example.com/foo+530d903a+!!!",
    ],
)
def test_malformed_vkeys_are_refused(bad: str) -> None:
    with pytest.raises(note.NoteError):
        note.parse_vkey(bad)


@pytest.mark.parametrize(
    "text",
    [
        "origin\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n1\nAAAA\n",
        "origin\n1\n",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(note.NoteError):
        note.parse_checkpoint(text)
