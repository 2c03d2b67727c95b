"""Failed sign-ins, counted per username and per client address with the `limits` library
(a moving window), in Redis when configured so every API process sees the same counts."""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from registry.core.config import Settings

_NAMESPACE = "console-signin"


@dataclass
class SignInThrottle:
    limiter: MovingWindowRateLimiter
    per_username: RateLimitItem
    per_address: RateLimitItem

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInThrottle:
        url = settings.console_limits_url or settings.redis_url or "memory://"
        return cls(
            MovingWindowRateLimiter(storage_from_string(url)),
            parse(settings.console_signin_limit),
            parse(settings.console_signin_limit_per_address),
        )

    def _checks(self, username: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [
            (self.per_username, "user", username.strip().lower()),
            (self.per_address, "addr", address),
        ]

    def retry_after(self, *, username: str, address: str) -> int | None:
        """Seconds to wait when either limit is used up, else None (sign-in may proceed)."""
        for item, kind, key in self._checks(username, address):
            if not self.limiter.test(item, _NAMESPACE, kind, key):
                reset = self.limiter.get_window_stats(item, _NAMESPACE, kind, key).reset_time
                return max(1, int(reset - time.time()) + 1)
        return None

    def record_failure(self, *, username: str, address: str) -> None:
        for item, kind, key in self._checks(username, address):
            self.limiter.hit(item, _NAMESPACE, kind, key)
