"""Helpers for verification tests: ask the endpoint, forge and tamper label URLs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, text

from registry.codes.digital_link import build_url, decode_digsig, encode_digsig, parse_url
from registry.core.config import get_settings
from registry.core.db import unit_of_work
from registry.labels import service
from registry.labels.crypto import sign_label
from tests.factories import World


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def phone(n: int) -> str:
    """The device cookie of the n-th test phone."""
    return f"{n:032x}"


def verify(world: World, url: str, *, device: str | None = None, **headers: str) -> dict[str, Any]:
    """The JSON verdict for a label URL, asked as a consumer's scan: by the phone whose
    device cookie is `device`, else by the test client's one phone (no cookie: the network
    and user-agent hash)."""
    world.client.cookies.clear()
    if device is not None:
        headers = {**headers, "Cookie": f"rg_device={device}"}
    r = world.client.get(path_of(url), headers={"Accept": "application/json", **headers})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    return dict(r.json())


def reason_codes(result: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in result["reasons"]]


def signed_url(engine: Engine, gtin: str, lot: str, serial: str) -> str:
    """A code signed with the registry's own active key, whether or not it was issued."""
    passphrase = get_settings().key_passphrase
    with unit_of_work(engine) as session:
        key = service.active_key(session)
        assert key is not None
        private = service.private_key_of(key, passphrase=passphrase)
        key_id = bytes.fromhex(key.key_id)
    digsig = sign_label(private, key_id, gtin, lot, serial)
    return build_url(get_settings().public_url, gtin, lot, serial, digsig)


def with_parts(url: str, **changes: str) -> str:
    """The same URL with gtin / lot / serial / digsig replaced (signature left as it was)."""
    code = parse_url(url)
    fields = {"gtin": code.gtin, "lot": code.lot, "serial": code.serial, "digsig": code.digsig}
    fields.update(changes)
    return build_url(get_settings().public_url, **fields)


def flip_signature_bit(url: str) -> str:
    key_id, signature = decode_digsig(parse_url(url).digsig)
    forged = bytes([signature[0] ^ 1]) + signature[1:]
    return with_parts(url, digsig=encode_digsig(key_id, forged))


def with_key_id(url: str, key_id: bytes) -> str:
    _, signature = decode_digsig(parse_url(url).digsig)
    return with_parts(url, digsig=encode_digsig(key_id, signature))


def tamper_event_data(engine: Engine, batch_id: str, seq: int, data_json: str) -> None:
    """Rewrite a stored event behind the registry's back (the append-only triggers off)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(text("DROP TRIGGER events_no_update"))
        conn.execute(
            text("UPDATE events SET data = :data WHERE batch_id = :b AND seq = :s"),
            {"data": data_json, "b": batch_id, "s": seq},
        )
        if engine.dialect.name != "postgresql":
            conn.execute(
                text(
                    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
                    "BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END"
                )
            )
