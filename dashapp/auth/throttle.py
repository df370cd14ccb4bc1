"""Failed-login throttling per user name and per client address (Redis-backed LoginThrottle)."""

from __future__ import annotations

import redis

from common.keys import RedisKeys
from dashapp.store.throttle import LoginThrottle

USER_MAX_FAILURES = 5
ADDR_MAX_FAILURES = 20  # higher: an office behind one NAT address shares this budget
WINDOW_S = 300


class LoginLimiter:
    """Combine a per-user and a per-address LoginThrottle; either one can lock a login out."""

    def __init__(
        self,
        redis_client: redis.Redis,
        keys: RedisKeys,
        user_max: int = USER_MAX_FAILURES,
        addr_max: int = ADDR_MAX_FAILURES,
        window_s: int = WINDOW_S,
    ) -> None:
        self._user = LoginThrottle(redis_client, keys, user_max, window_s)
        self._addr = LoginThrottle(redis_client, keys, addr_max, window_s)

    def retry_after(self, user: str, addr: str) -> float:
        """Seconds to wait before this user may try again from this address (0 = now)."""
        return float(max(self._user.check(f"user:{user}"), self._addr.check(f"addr:{addr}")))

    def failure(self, user: str, addr: str) -> None:
        """Count one failed attempt against both the name and the address."""
        self._user.failure(f"user:{user}")
        self._addr.failure(f"addr:{addr}")

    def success(self, user: str, addr: str) -> None:
        """Forget the user's failures (the address budget expires on its own)."""
        del addr
        self._user.success(f"user:{user}")
