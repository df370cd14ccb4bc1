"""Server-side login sessions in Redis: a signed cookie is honoured only while its session id lives."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

import redis

from common.keys import RedisKeys

logger = logging.getLogger(__name__)
CHECK_S = 1.0  # how often a worker asks whether anyone logged out: the revocation delay
RECHECK_LIVE_S = 60.0  # a live answer is also re-asked this often (e.g. after a Redis flush)
MAX_CACHE_ENTRIES = 20_000


class SessionRegistry:
    """Open, check and close login sessions; `is_live` is what every request (and poll) pays.

    A session id is a random token kept in the signed cookie and as a key with the cookie's lifetime
    in Redis. Logging out deletes the key, so a copied cookie stops working everywhere. Each worker
    remembers its answers: a closed id for good (it never comes back), a live one until any logout
    happens anywhere, which it learns from a counter every logout increments and which it reads at
    most once per CHECK_S. So a poll costs no Redis round trip at all, except the first of each
    session per logout (or per RECHECK_LIVE_S), and a revoked cookie is refused within CHECK_S.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        keys: RedisKeys,
        lifetime_s: int,
        check_s: float = CHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._r, self._keys = redis_client, keys
        self.lifetime_s, self.check_s, self._clock = lifetime_s, check_s, clock
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, bool]] = {}  # sid -> (when checked, live)
        self._counter: object = b"unread"  # the revocation counter as last read
        self._counter_read = -float("inf")

    def open(self, user: str) -> str:
        """Record a new session of `user`; return its id (to put in the signed cookie)."""
        sid = secrets.token_urlsafe(24)
        now = int(time.time())
        index = self._keys.user_sessions(user)
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._keys.login_session(sid), user, ex=self.lifetime_s)
        pipe.zremrangebyscore(index, "-inf", now)  # forget the user's expired sessions
        pipe.zadd(index, {sid: now + self.lifetime_s})
        pipe.expire(index, self.lifetime_s)
        pipe.execute()
        return sid

    def is_live(self, sid: object) -> bool:
        """Whether the session `sid` is still open (from this worker's memory when it can be)."""
        if not isinstance(sid, str) or not sid or len(sid) > 64:
            return False
        now = self._clock()
        try:
            if now - self._counter_read >= self.check_s:
                self._read_counter(now)
            known = self._known  # read before asking Redis: a reset meanwhile discards this answer
            hit = known.get(sid)
            if hit is not None and (not hit[1] or now - hit[0] < RECHECK_LIVE_S):
                return hit[1]
            live = bool(self._r.exists(self._keys.login_session(sid)))
        except redis.RedisError as exc:
            # Nothing can be revoked while Redis is away (nor can anyone log in): a session known
            # to be live stays so, instead of every open page reporting an expired login.
            logger.warning("dashapp.sessions: cannot check a session error=%s", exc)
            hit = self._known.get(sid)
            return hit is not None and hit[1]
        if len(known) >= MAX_CACHE_ENTRIES:
            with self._lock:
                self._known = known = {}  # swapped, not cleared: a reader of the old one is unaffected
        known[sid] = (now, live)
        return live

    def _read_counter(self, now: float) -> None:
        counter = self._r.get(self._keys.login_revocations)
        with self._lock:
            if counter != self._counter:  # someone logged out: re-ask about every live session
                self._known = {sid: hit for sid, hit in self._known.items() if not hit[1]}
                self._counter = counter
            self._counter_read = now

    def close(self, sid: object, user: str) -> None:
        """End one session (logout)."""
        if isinstance(sid, str) and sid:
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(self._keys.login_session(sid))
            pipe.zrem(self._keys.user_sessions(user), sid)
            pipe.incr(self._keys.login_revocations)
            pipe.execute()
            self._known[sid] = (self._clock(), False)  # this worker knows at once

    def close_all(self, user: str) -> int:
        """End every session of `user` ("log out everywhere"); return how many were open."""
        index = self._keys.user_sessions(user)
        sids = [s.decode() if isinstance(s, bytes) else str(s) for s in self._r.zrange(index, 0, -1)]
        pipe = self._r.pipeline(transaction=True)
        for sid in sids:
            pipe.delete(self._keys.login_session(sid))
        if sids:
            pipe.zrem(index, *sids)  # not DEL: a login that lands meanwhile stays listed
        pipe.incr(self._keys.login_revocations)
        closed = sum(int(n) for n in pipe.execute()[: len(sids)])
        for sid in sids:
            self._known[sid] = (self._clock(), False)
        return closed
