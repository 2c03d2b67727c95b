"""Failed sign-ins counted in Redis are seen by every API process."""

from __future__ import annotations

import uuid

import pytest

from registry.console.throttle import SignInThrottle
from registry.core.config import Settings


@pytest.mark.redis
def test_processes_sharing_redis_share_the_count(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, console_signin_limit="3/15minutes")
    first, second = SignInThrottle.from_settings(settings), SignInThrottle.from_settings(settings)
    username = f"user-{uuid.uuid4().hex}"  # fresh keys: nothing left from other runs
    address = f"addr-{uuid.uuid4().hex}"
    for throttle in (first, second, first):
        assert throttle.retry_after(username=username, address=address) is None
        throttle.record_failure(username=username, address=address)
    wait = second.retry_after(username=username.upper(), address="another address")
    assert wait is not None
    assert 0 < wait <= 15 * 60 + 1
    assert second.retry_after(username=f"other-{username}", address=address) is None


def test_memory_counts_are_per_process() -> None:
    settings = Settings(console_signin_limit="1/minute")
    first, second = SignInThrottle.from_settings(settings), SignInThrottle.from_settings(settings)
    first.record_failure(username="zhang", address="client-a")
    assert first.retry_after(username="zhang", address="client-a") is not None
    assert second.retry_after(username="zhang", address="client-a") is None
