"""The log's Ed25519 checkpoint key: created on purpose (`registry keys create --log`) or on
first publication, stored encrypted under the key passphrase like the label keys, and kept
apart from them (its own table, its own key id rule: the C2SP note key id)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from registry.log import note
from registry.log.exceptions import LogKeyExists, LogKeyMissing, LogKeyUnavailable
from registry.log.models import LogKey


def active_log_key(session: Session) -> LogKey | None:
    return session.exec(select(LogKey).where(LogKey.status == "active")).first()


def require_log_key(session: Session) -> LogKey:
    key = active_log_key(session)
    if key is None:
        raise LogKeyMissing("the log has no signing key yet (registry keys create --log)")
    return key


def _encrypt(private_key: Ed25519PrivateKey, passphrase: str) -> bytes:
    if not passphrase:
        raise ValueError("a key passphrase must not be empty")
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )


def create_log_key(
    session: Session, *, name: str, passphrase: str, private_key: Ed25519PrivateKey | None = None
) -> LogKey:
    """Create the log's active key named `name` (the checkpoint origin); refused if one is
    already active: a witness pins the key, so changing it is a deliberate act."""
    current = active_log_key(session)
    if current is not None:
        raise LogKeyExists(f"log key {current.name}+{current.key_id} is already active")
    secret = private_key or Ed25519PrivateKey.generate()
    verifier = note.Signer(name=name, private_key=secret).verifier
    key = LogKey(
        name=name,
        key_id=verifier.key_id.hex(),
        public_key=verifier.public_key,
        private_key_encrypted=_encrypt(secret, passphrase),
    )
    session.add(key)
    session.flush()
    return key


def ensure_log_key(session: Session, *, name: str, passphrase: str) -> LogKey:
    """The active key, created on first use (a concurrent creator wins; we take its key)."""
    key = active_log_key(session)
    if key is not None:
        return key
    savepoint = session.begin_nested()
    try:
        key = create_log_key(session, name=name, passphrase=passphrase)
    except IntegrityError:
        savepoint.rollback()
        return require_log_key(session)
    savepoint.commit()
    return key


def verifier_of(key: LogKey) -> note.Verifier:
    return note.Verifier(
        name=key.name, key_id=bytes.fromhex(key.key_id), public_key=bytes(key.public_key)
    )


def signer_of(key: LogKey, passphrase: str) -> note.Signer:
    try:
        secret = serialization.load_pem_private_key(
            bytes(key.private_key_encrypted), password=passphrase.encode()
        )
    except (ValueError, TypeError) as exc:
        raise LogKeyUnavailable(
            "could not decrypt the log key: wrong passphrase or damaged key"
        ) from exc
    if not isinstance(secret, Ed25519PrivateKey):
        raise LogKeyUnavailable("the stored log key is not an Ed25519 key")
    return note.Signer(name=key.name, private_key=secret)
