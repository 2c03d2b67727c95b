"""Label signing keys and label runs: key lifecycle, issuing runs under mass balance, codes.

A run stores a serial range and its key; Ed25519 signing is deterministic, so every code of
the run is re-derived on demand (codes list, QR images) and nothing per label is stored.
"""

from __future__ import annotations

import threading
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.batches.exceptions import NotCustodian
from registry.batches.models import Batch, BatchStatus
from registry.batches.service import append_registry_event, get_batch
from registry.brands.models import Brand
from registry.brands.service import require_license
from registry.codes.digital_link import build_url
from registry.codes.signature import KeySet, PublicKey
from registry.core.errors import Conflict, Forbidden
from registry.core.ids import new_id
from registry.core.time import utcnow
from registry.labels import crypto
from registry.labels.exceptions import (
    ActiveKeyExists,
    AmbiguousLabelCode,
    BatchHasNoGtin,
    KeyIdCollision,
    KeyRevoked,
    LabelKeyUnavailable,
    LabelRunNotFound,
    SerialNotInRun,
    SerialsExhausted,
    SigningKeyNotFound,
)
from registry.labels.models import (
    MAX_SERIAL,
    KeyStatus,
    LabelRun,
    SigningKey,
    format_serial,
    parse_serial,
)
from registry.labels.schemas import LabelCodePublic
from registry.orgs.models import Organization, OrgKind

# A fresh random key collides with one of n stored ids with probability n/65536; retrying a
# few times makes a refusal practically impossible unless the id space is nearly full.
_GENERATE_ATTEMPTS = 16
_PUBLISHED_STATUS: dict[str, Literal["active", "retired", "revoked"]] = {
    KeyStatus.active: "active",
    KeyStatus.retired: "retired",
    KeyStatus.revoked: "revoked",
}


# --- signing keys -------------------------------------------------------------------------


def list_keys(session: Session) -> list[SigningKey]:
    return list(session.exec(select(SigningKey).order_by(col(SigningKey.created_at))))


def get_key(session: Session, key_id: str) -> SigningKey:
    key = session.exec(select(SigningKey).where(SigningKey.key_id == key_id.lower())).first()
    if key is None:
        raise SigningKeyNotFound(f"no label signing key has id {key_id!r}")
    return key


def active_key(session: Session) -> SigningKey | None:
    return session.exec(select(SigningKey).where(SigningKey.status == KeyStatus.active)).first()


def _store_key(session: Session, *, private_key: Ed25519PrivateKey, passphrase: str) -> SigningKey:
    raw = crypto.public_raw(private_key)
    key_id = crypto.key_id_for(raw).hex()
    if session.exec(select(SigningKey.id).where(SigningKey.key_id == key_id)).first():
        raise KeyIdCollision(
            f"key id {key_id} is already used by another label key (ids are the first 2 bytes "
            "of SHA-256 of the public key); generate another key"
        )
    key = SigningKey(
        key_id=key_id,
        public_key=raw,
        private_key_encrypted=crypto.encrypt_private_key(private_key, passphrase),
        status=KeyStatus.active,
    )
    session.add(key)
    session.flush()
    return key


def _new_key(
    session: Session, *, passphrase: str, private_key: Ed25519PrivateKey | None
) -> SigningKey:
    if private_key is not None:
        return _store_key(session, private_key=private_key, passphrase=passphrase)
    for _ in range(_GENERATE_ATTEMPTS - 1):
        try:
            return _store_key(
                session, private_key=crypto.generate_private_key(), passphrase=passphrase
            )
        except KeyIdCollision:
            continue
    return _store_key(session, private_key=crypto.generate_private_key(), passphrase=passphrase)


def create_key(
    session: Session, *, passphrase: str, private_key: Ed25519PrivateKey | None = None
) -> SigningKey:
    """Create the active label key (a new one unless `private_key` is given).

    Refuses when a key is already active (use `rotate_key`) and when the new key's id
    collides with any stored key's, revoked ones included.
    """
    current = active_key(session)
    if current is not None:
        raise ActiveKeyExists(f"key {current.key_id} is already active; rotate it instead")
    return _new_key(session, passphrase=passphrase, private_key=private_key)


def rotate_key(
    session: Session, *, passphrase: str, private_key: Ed25519PrivateKey | None = None
) -> SigningKey:
    """Retire the active key (its labels keep verifying) and make a new key active."""
    current = active_key(session)
    if current is not None:
        current.status, current.retired_at = KeyStatus.retired, utcnow()
        session.add(current)
        session.flush()  # the one-active index must see the old key retired first
    return _new_key(session, passphrase=passphrase, private_key=private_key)


def revoke_key(session: Session, *, key_id: str) -> SigningKey:
    """Revoke a key: every label it signed verifies `invalid` from the next request on."""
    key = get_key(session, key_id)
    if key.status != KeyStatus.revoked:
        key.status, key.revoked_at = KeyStatus.revoked, utcnow()
        session.add(key)
        session.flush()
    return key


def ensure_active_key(session: Session, *, passphrase: str) -> SigningKey:
    """The active key, created on first use. A concurrent creator wins on the one-active
    index; the loser rolls back its savepoint and takes the winner's key."""
    key = active_key(session)
    if key is not None:
        return key
    savepoint = session.begin_nested()
    try:
        key = _new_key(session, passphrase=passphrase, private_key=None)
    except IntegrityError:
        savepoint.rollback()
        key = active_key(session)
        if key is None:
            raise Conflict("could not create a label key concurrently; retry") from None
        return key
    savepoint.commit()
    return key


# Built once: this runs on every verification.
_KEY_ROWS = select(SigningKey.key_id, SigningKey.status, SigningKey.public_key).order_by(
    col(SigningKey.key_id)
)


class _KeySetCache:
    """The last KeySet built, reused while the stored keys and statuses are unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: tuple[tuple[str, str, bytes], ...] | None = None
        self._keys = KeySet()

    def get(self, session: Session) -> KeySet:
        rows = tuple(
            (key_id, str(status), bytes(raw)) for key_id, status, raw in session.exec(_KEY_ROWS)
        )
        with self._lock:
            if rows == self._rows:
                return self._keys
        keys = KeySet(
            PublicKey(key_id=bytes.fromhex(kid), raw=raw, status=_PUBLISHED_STATUS[status])
            for kid, status, raw in rows
        )
        with self._lock:
            self._rows, self._keys = rows, keys
        return keys


_KEY_SETS = _KeySetCache()


def published_key_set(session: Session) -> KeySet:
    """Every label key the registry ever made, with its status (the JWKS content).

    Reads the keys' ids and statuses (one small query) on every call, so a revocation is
    seen at once; the parsed KeySet is rebuilt only when that changes.
    """
    return _KEY_SETS.get(session)


def private_key_of(key: SigningKey, *, passphrase: str) -> Ed25519PrivateKey:
    try:
        return crypto.decrypt_private_key(key.private_key_encrypted, passphrase)
    except crypto.KeyDecryptionError as exc:
        raise LabelKeyUnavailable(
            f"label key {key.key_id} cannot be decrypted: REGISTRY_KEY_PASSPHRASE does not "
            "match the one it was stored with"
        ) from exc


# --- label runs ---------------------------------------------------------------------------


def create_label_run(
    session: Session, *, batch_id: str, count: int, actor: Organization, passphrase: str
) -> LabelRun:
    """Issue `count` consecutive serials of a batch and write its `labeled` event.

    Only the batch's cooperative, holding a valid license of an active brand, for a batch
    with a GTIN that is not recalled; mass balance (labels <= packed units) is enforced by
    the event append. Uses the active key, creating one on first use.
    """
    batch = get_batch(session, batch_id, lock=True)
    if actor.id != batch.cooperative_org_id:
        raise NotCustodian(f"only the cooperative that produced batch {batch.id} issues labels")
    if batch.gtin is None:
        raise BatchHasNoGtin(f"batch {batch.id} has no GTIN; labels need one (AI 01)")
    if batch.status == BatchStatus.recalled:
        raise Conflict(f"batch {batch.id} is recalled; no labels are issued for it")
    brand = session.get(Brand, batch.brand_id)
    assert brand is not None
    require_license(session, brand=brand, org=actor, day=utcnow().date())
    twin = session.exec(
        select(Batch.id).where(
            Batch.gtin == batch.gtin, Batch.lot == batch.lot, Batch.id != batch.id
        )
    ).first()
    if twin is not None:
        raise AmbiguousLabelCode(
            f"batch {twin} has the same GTIN {batch.gtin} and lot {batch.lot!r}; "
            "labels of the two could not be told apart"
        )
    issued = session.exec(
        select(func.max(LabelRun.last_serial)).where(LabelRun.batch_id == batch.id)
    ).one()
    first = int(issued or 0) + 1
    last = first + count - 1
    if last > MAX_SERIAL:
        raise SerialsExhausted(
            f"{count} serials requested, but batch {batch.id} has only "
            f"{MAX_SERIAL - first + 1} of its {MAX_SERIAL} left"
        )
    key = ensure_active_key(session, passphrase=passphrase)
    private_key_of(key, passphrase=passphrase)  # refuse now rather than when printing
    run = LabelRun(
        id=new_id(),
        batch_id=batch.id,
        key_id=key.key_id,
        first_serial=first,
        last_serial=last,
        count=count,
        created_by_org_id=actor.id,
    )
    append_registry_event(
        session,
        batch_id=batch.id,
        type="labeled",
        data={
            "run_id": run.id,
            "first_serial": format_serial(first),
            "last_serial": format_serial(last),
            "count": count,
            "key_id": key.key_id,
        },
        actor=actor,
    )
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: str) -> LabelRun:
    run = session.get(LabelRun, run_id)
    if run is None:
        raise LabelRunNotFound(f"label run {run_id} not found")
    return run


def readable_run(session: Session, *, run_id: str, actor: Organization) -> tuple[LabelRun, Batch]:
    """The run and its batch, for its cooperative, the brand owner, regulators and admins."""
    run = get_run(session, run_id)
    batch = get_batch(session, run.batch_id)
    if actor.kind in (OrgKind.admin, OrgKind.regulator) or actor.id == batch.cooperative_org_id:
        return run, batch
    brand = session.get(Brand, batch.brand_id)
    if brand is not None and brand.owner_org_id == actor.id:
        return run, batch
    raise Forbidden(
        f"label run {run.id} is for batch {batch.id}'s cooperative, brand owner and regulators"
    )


class _CodeSigner:
    """Signs one batch's serials with one key (decrypted once per request)."""

    def __init__(self, session: Session, run: LabelRun, batch: Batch, *, passphrase: str) -> None:
        key = get_key(session, run.key_id)
        if key.status == KeyStatus.revoked:
            raise KeyRevoked(
                f"key {key.key_id} of label run {run.id} is revoked: its labels verify as "
                "invalid; issue a new run"
            )
        assert batch.gtin is not None  # runs are only issued for batches with a GTIN
        self._private = private_key_of(key, passphrase=passphrase)
        self._key_id = bytes.fromhex(key.key_id)
        self._gtin, self._lot = batch.gtin, batch.lot

    def url(self, base_url: str, serial: str) -> str:
        digsig = crypto.sign_label(self._private, self._key_id, self._gtin, self._lot, serial)
        return build_url(base_url, self._gtin, self._lot, serial, digsig)


def run_codes(
    session: Session,
    *,
    run_id: str,
    actor: Organization,
    offset: int,
    limit: int,
    base_url: str,
    passphrase: str,
) -> tuple[LabelRun, list[LabelCodePublic]]:
    """A page of the run's codes in serial order: `limit` codes from the `offset`-th."""
    run, batch = readable_run(session, run_id=run_id, actor=actor)
    signer = _CodeSigner(session, run, batch, passphrase=passphrase)
    start = run.first_serial + offset
    stop = min(run.last_serial, start + limit - 1)
    codes = []
    for number in range(start, stop + 1):
        serial = format_serial(number)
        codes.append(LabelCodePublic(serial=serial, url=signer.url(base_url, serial)))
    return run, codes


def code_url(
    session: Session,
    *,
    run_id: str,
    serial: str,
    actor: Organization,
    base_url: str,
    passphrase: str,
) -> str:
    """The label URL of one serial of the run (404 for a serial outside it)."""
    run, batch = readable_run(session, run_id=run_id, actor=actor)
    number = parse_serial(serial)
    if number is None or not run.first_serial <= number <= run.last_serial:
        raise SerialNotInRun(
            f"serial {serial!r} is not in label run {run.id} "
            f"({format_serial(run.first_serial)}-{format_serial(run.last_serial)})"
        )
    return _CodeSigner(session, run, batch, passphrase=passphrase).url(base_url, serial)
