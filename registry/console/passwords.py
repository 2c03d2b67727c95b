"""Password hashing for member logins: Argon2id through argon2-cffi (RFC 9106 low-memory
profile, the library's default), and the generated passwords the CLI prints once."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200


@lru_cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher().check_needs_rehash(stored_hash)


@lru_cache
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_verification_time(password: str) -> None:
    """Spend what a real check costs, so an unknown username answers as slowly as a known one."""
    verify_password(_decoy_hash(), password)


def generate_password() -> str:
    """16 URL-safe characters (96 random bits), easy to type on a phone."""
    return secrets.token_urlsafe(12)
