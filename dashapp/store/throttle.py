"""Failed-login throttling shared by every dashboard worker through Redis."""

from __future__ import annotations

import hashlib

import redis

from common.keys import RedisKeys
from dashapp.store._codec import to_int


class LoginThrottle:
    """Lock a user name or client address out after too many recent failed logins."""

    def __init__(
        self, redis_client: redis.Redis, keys: RedisKeys, max_failures: int = 5, window_s: int = 300
    ) -> None:
        self._r = redis_client
        self._keys = keys
        self.max_failures = max_failures
        self.window_s = window_s

    def _key(self, who: str) -> str:
        # `who` is attacker-controlled: bound the key length whatever it holds
        tag = who if len(who) <= 64 else hashlib.sha256(who.encode()).hexdigest()
        return self._keys.login_failures(tag)

    def check(self, who: str) -> int:
        """Return how many seconds ``who`` must wait before trying again (0 = may try now)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.get(self._key(who))
        pipe.ttl(self._key(who))
        count, ttl = pipe.execute()
        if to_int(count) < self.max_failures:
            return 0
        return max(1, to_int(ttl, self.window_s))

    def failure(self, who: str) -> int:
        """Record a failed login; return the number of failures in the current window."""
        pipe = self._r.pipeline(transaction=True)
        pipe.incr(self._key(who))
        pipe.expire(self._key(who), self.window_s)  # every failure restarts the window
        count, _ = pipe.execute()
        return to_int(count)

    def success(self, who: str) -> None:
        """Forget ``who``'s failures after a successful login."""
        self._r.delete(self._key(who))
