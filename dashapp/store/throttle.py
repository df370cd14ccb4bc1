"""Failed-login throttling with exponential backoff, shared by every dashboard worker through Redis."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import redis

from common.keys import RedisKeys
from dashapp.store._codec import to_int


def backoff_s(failures: int, free: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait after `failures` recent failures: none for the first `free`, then doubling."""
    if failures < free:
        return 0.0
    return float(min(cap_s, base_s * 2 ** min(failures - free, 32)))


class LoginThrottle:
    """A failure counter per identity; the wait backs off from the last failure.

    One key per identity holds the count, its TTL restarted by each failure, so the TTL also says
    when the last failure was: wait = backoff(count) - time since then. The count is forgotten
    `window_s` after the last failure (or at a success).
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        keys: RedisKeys,
        max_failures: int = 5,
        window_s: int = 900,
        base_s: float = 30.0,
    ) -> None:
        self._r = redis_client
        self._keys = keys
        self.max_failures = max_failures  # failures allowed before the first wait
        self.window_s = window_s
        self.base_s = base_s

    def key(self, who: str) -> str:
        """The Redis key of `who` (attacker-controlled: the length is bounded whatever it holds)."""
        tag = who if len(who) <= 64 else hashlib.sha256(who.encode()).hexdigest()
        return self._keys.login_failures(tag)

    def wait(self, count: object, pttl_ms: object) -> int:
        """Whole seconds to wait given the stored count and its remaining TTL (0 = may try now)."""
        failures, pttl = to_int(count), to_int(pttl_ms, -1)
        if failures < self.max_failures or pttl < 0:
            return 0
        since_last_s = self.window_s - pttl / 1000
        backoff = backoff_s(failures, self.max_failures, self.base_s, self.window_s)
        return max(0, math.ceil(backoff - since_last_s))

    def check(self, who: str) -> int:
        """Return how many seconds ``who`` must wait before trying again (0 = may try now)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.get(self.key(who))
        pipe.pttl(self.key(who))
        return self.wait(*pipe.execute())

    def failure(self, who: str) -> int:
        """Record a failed login; return the number of failures in the current window."""
        pipe = self._r.pipeline(transaction=True)
        pipe.incr(self.key(who))
        pipe.expire(self.key(who), self.window_s)  # every failure restarts the window
        count, _ = pipe.execute()
        return to_int(count)

    def success(self, who: str) -> None:
        """Forget ``who``'s failures after a successful login."""
        self._r.delete(self.key(who))


@dataclass(frozen=True)
class LimiterPolicy:
    """Free failures before the backoff starts, per counter (the waits then start at base_s)."""

    pair: int = 5  # one user name from one address
    device: int = 5  # one browser that signed this user in before (device cookie)
    user: int = 20  # one user name from any address without that user's device cookie
    addr: int = 50  # one address, any user names, without a device cookie (password spraying)
    window_s: int = 900
    base_s: float = 30.0


class LoginLimiter:
    """Who must wait before a login attempt is even checked (device cookies after OWASP's scheme).

    A browser holding a device cookie from an earlier successful login of this user is throttled
    only on its own failures, so nobody can lock a user out of the browsers they use. Attempts
    without one are throttled per (user, address) with backoff, and, more loosely, per user and per
    address, which bounds guessing from many addresses or against many names.
    """

    def __init__(self, redis_client: redis.Redis, keys: RedisKeys, policy: LimiterPolicy | None = None):
        p = policy or LimiterPolicy()
        self._r = redis_client
        self._throttles = {
            name: LoginThrottle(redis_client, keys, free, p.window_s, p.base_s)
            for name, free in (("pair", p.pair), ("device", p.device), ("user", p.user), ("addr", p.addr))
        }

    @staticmethod
    def _counters(user: str, addr: str, device: str | None) -> list[tuple[str, str]]:
        if device is not None:
            return [("device", f"device:{device}")]
        return [("pair", f"pair:{user}|{addr}"), ("user", f"user:{user}"), ("addr", f"addr:{addr}")]

    def retry_after(self, user: str, addr: str, device: str | None = None) -> int:
        """Seconds before `user` may try again from `addr` (0 = now); one Redis round trip."""
        counters = self._counters(user, addr, device)
        pipe = self._r.pipeline(transaction=False)
        for name, who in counters:
            key = self._throttles[name].key(who)
            pipe.get(key)
            pipe.pttl(key)
        got = pipe.execute()
        waits = [self._throttles[n].wait(got[2 * i], got[2 * i + 1]) for i, (n, _) in enumerate(counters)]
        return max(waits)

    def failure(self, user: str, addr: str, device: str | None = None) -> None:
        """Count one failed attempt against every counter that applies to it (one round trip)."""
        pipe = self._r.pipeline(transaction=True)
        for name, who in self._counters(user, addr, device):
            throttle = self._throttles[name]
            pipe.incr(throttle.key(who))
            pipe.expire(throttle.key(who), throttle.window_s)  # every failure restarts the window
        pipe.execute()

    def success(self, user: str, addr: str, device: str | None = None) -> None:
        """Forget the failures of this browser, or of this user at this address.

        The per-user and per-address counts expire on their own: one success must not wipe an
        attack that is still going on from elsewhere.
        """
        name, who = self._counters(user, addr, device)[0]
        self._throttles[name].success(who)
