"""Password hashing for member logins: Argon2id through argon2-cffi (by default RFC 9106's
low-memory profile, the library's own; settings may change the cost, and older hashes are
upgraded at the next sign-in), and the generated passwords the CLI prints once."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from registry.core.config import get_settings

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200


@lru_cache
def _hasher_for(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)


def _params() -> tuple[int, int, int]:
    settings = get_settings()
    return (
        settings.console_password_memory_kib,
        settings.console_password_time_cost,
        settings.console_password_parallelism,
    )


def _hasher() -> PasswordHasher:
    return _hasher_for(*_params())


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


_DECOYS: dict[tuple[int, int, int], str] = {}


def burn_verification_time(password: str) -> None:
    """Spend what a real check costs, so an unknown username answers as slowly as a known one."""
    params = _params()
    if params not in _DECOYS:
        _DECOYS[params] = hash_password(secrets.token_urlsafe(16))
    verify_password(_DECOYS[params], password)


def generate_password() -> str:
    """16 URL-safe characters (96 random bits), easy to type on a phone."""
    return secrets.token_urlsafe(12)
