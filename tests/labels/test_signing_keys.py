"""Label signing keys: lifecycle, id collisions, encrypted storage, and the published JWKS."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.labels import service
from registry.labels.crypto import (
    decrypt_private_key,
    key_id_for,
    private_key_from_seed,
    public_raw,
)
from registry.labels.exceptions import ActiveKeyExists, KeyIdCollision, SigningKeyNotFound
from tests.factories import World, harvested, issue_labels, label_codes, labeled_batch, packed

PASSPHRASE = "test passphrase"


@cache
def colliding_keys() -> tuple[Ed25519PrivateKey, Ed25519PrivateKey]:
    """Two different Ed25519 keys whose 2-byte key ids are equal (a birthday search)."""
    seen: dict[bytes, Ed25519PrivateKey] = {}
    for i in range(100_000):
        key = private_key_from_seed(hashlib.sha256(i.to_bytes(4, "big")).digest())
        kid = key_id_for(public_raw(key))
        if kid in seen:
            return seen[kid], key
        seen[kid] = key
    raise AssertionError("no collision found")


def test_lifecycle_create_rotate_revoke(engine: Engine) -> None:
    with unit_of_work(engine, write=True) as session:
        first = service.create_key(session, passphrase=PASSPHRASE)
        first_id = first.key_id
    with unit_of_work(engine, write=True) as session, pytest.raises(ActiveKeyExists):
        service.create_key(session, passphrase=PASSPHRASE)
    with unit_of_work(engine, write=True) as session:
        second_id = service.rotate_key(session, passphrase=PASSPHRASE).key_id
    with unit_of_work(engine, write=True) as session:
        service.revoke_key(session, key_id=first_id)
        service.revoke_key(session, key_id=first_id)  # idempotent
    with unit_of_work(engine) as session:
        keys = {k.key_id: k for k in service.list_keys(session)}
        assert keys[first_id].status == "revoked"
        assert keys[first_id].retired_at is not None
        assert keys[first_id].revoked_at is not None
        assert keys[second_id].status == "active"
        active = service.active_key(session)
        assert active is not None
        assert active.key_id == second_id
    with unit_of_work(engine, write=True) as session, pytest.raises(SigningKeyNotFound):
        service.revoke_key(session, key_id="ffff" if "ffff" not in keys else "0000")


def test_private_keys_are_stored_encrypted(engine: Engine) -> None:
    with unit_of_work(engine, write=True) as session:
        key = service.create_key(session, passphrase=PASSPHRASE)
    assert key.private_key_encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    private = decrypt_private_key(key.private_key_encrypted, PASSPHRASE)
    assert key_id_for(public_raw(private)).hex() == key.key_id
    assert public_raw(private) == key.public_key


def test_a_key_id_collision_is_refused_even_with_a_revoked_key(engine: Engine) -> None:
    old, new = colliding_keys()
    assert public_raw(old) != public_raw(new)
    with unit_of_work(engine, write=True) as session:
        old_id = service.create_key(session, passphrase=PASSPHRASE, private_key=old).key_id
        service.revoke_key(session, key_id=old_id)
    with unit_of_work(engine, write=True) as session, pytest.raises(KeyIdCollision):
        service.create_key(session, passphrase=PASSPHRASE, private_key=new)
    with unit_of_work(engine, write=True) as session, pytest.raises(KeyIdCollision):
        service.rotate_key(session, passphrase=PASSPHRASE, private_key=new)
    with unit_of_work(engine) as session:
        assert [k.key_id for k in service.list_keys(session)] == [old_id]


def test_the_database_holds_at_most_one_active_key(engine: Engine) -> None:
    with unit_of_work(engine, write=True) as session:
        key = service.create_key(session, passphrase=PASSPHRASE)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO signing_keys (id, key_id, public_key, private_key_encrypted, "
                "status, created_at) VALUES ('x', 'abcd', :pk, :sk, 'active', :at)"
            ),
            {"pk": key.public_key, "sk": key.private_key_encrypted, "at": key.created_at},
        )


def test_a_key_that_does_not_decrypt_refuses_label_runs_with_503(world: World) -> None:
    with unit_of_work(world.engine, write=True) as session:
        service.create_key(session, passphrase="not the configured passphrase")
    batch = world.new_batch()
    world.ok(batch["id"], world.coop, harvested())
    world.ok(batch["id"], world.coop, packed(units=10))
    r = issue_labels(world, batch["id"], 1)
    assert r.status_code == 503
    assert r.json()["error"] == "LabelKeyUnavailable"
    assert "REGISTRY_KEY_PASSPHRASE" in r.json()["detail"]


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def test_jwks_verifies_labels_with_plain_cryptography(world: World) -> None:
    """An independent verifier: only the JWKS, the URL and the `cryptography` package."""
    _, run_a = labeled_batch(world, units=10, count=2)
    with unit_of_work(world.engine, write=True) as session:
        service.rotate_key(session, passphrase=get_settings().key_passphrase)
    _, run_b = labeled_batch(world, units=10, count=2)
    with unit_of_work(world.engine, write=True) as session:
        service.rotate_key(session, passphrase=get_settings().key_passphrase)
        service.revoke_key(session, key_id=run_b["key_id"])

    r = world.client.get("/.well-known/registry-keys.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert "public" in r.headers["cache-control"]
    assert "max-age=" in r.headers["cache-control"]
    jwks = r.json()
    by_kid = {}
    for jwk in jwks["keys"]:
        assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == (
            "OKP",
            "Ed25519",
            "EdDSA",
            "sig",
        )
        raw = b64url_decode(jwk["x"])
        assert hashlib.sha256(raw).digest()[:2].hex() == jwk["kid"]
        by_kid[jwk["kid"]] = (Ed25519PublicKey.from_public_bytes(raw), jwk["status"])
    assert len(by_kid) == 3
    assert by_kid[run_a["key_id"]][1] == "retired"
    assert by_kid[run_b["key_id"]][1] == "revoked"
    assert sorted(status for _, status in by_kid.values()) == ["active", "retired", "revoked"]

    for url in label_codes(world, run_a["run_id"]):
        parts = urlsplit(url)
        _, ai01, gtin, ai10, lot, ai21, serial = parts.path.split("/")
        assert (ai01, ai10, ai21) == ("01", "10", "21")
        blob = b64url_decode(parse_qs(parts.query)["8030"][0])
        kid, signature = blob[:2].hex(), blob[2:]
        message = f"01{gtin}10{unquote(lot)}\x1d21{unquote(serial)}".encode("ascii")
        public, status = by_kid[kid]
        assert status != "revoked"
        public.verify(signature, message)  # raises InvalidSignature if not genuine


def test_jwks_revalidates_with_etag(world: World) -> None:
    labeled_batch(world, units=10, count=1)
    first = world.client.get("/.well-known/registry-keys.json")
    etag = first.headers["etag"]
    again = world.client.get("/.well-known/registry-keys.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    with unit_of_work(world.engine, write=True) as session:
        service.rotate_key(session, passphrase=get_settings().key_passphrase)
    changed = world.client.get("/.well-known/registry-keys.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert len(changed.json()["keys"]) == 2
