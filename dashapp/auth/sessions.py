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
CHECK_S = 1.0  # a worker re-asks Redis about a live session at most this often: the revocation delay
MAX_CACHE_ENTRIES = 20_000


class SessionRegistry:
    """Open, check and close login sessions; `is_live` is what every request (and poll) pays.

    A session id is a random token kept in the signed cookie and as a key with the cookie's lifetime
    in Redis. Logging out deletes the key, so a copied cookie stops working everywhere. Each worker
    remembers a live answer for CHECK_S seconds (a tab polling once a second costs at most one Redis
    round trip per second) and a closed one for good (a closed id never comes back).
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
        self._checked: dict[str, tuple[float, bool]] = {}  # sid -> (answer good until, live)

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
        """Whether the session `sid` is still open (answered from this worker's memory when fresh)."""
        if not isinstance(sid, str) or not sid or len(sid) > 64:
            return False
        now = self._clock()
        hit = self._checked.get(sid)
        if hit is not None and (hit[0] > now or not hit[1]):
            return hit[1]
        try:
            live = bool(self._r.exists(self._keys.login_session(sid)))
        except redis.RedisError as exc:
            # Nothing can be revoked while Redis is away (nor can anyone log in): a session known
            # to be live stays so, instead of every open page reporting an expired login.
            logger.warning("dashapp.sessions: cannot check a session error=%s", exc)
            return hit is not None and hit[1]
        with self._lock:
            if len(self._checked) >= MAX_CACHE_ENTRIES:
                self._checked = {}  # swapped, not cleared: a thread reading the old dict is unaffected
            self._checked[sid] = (now + self.check_s, live)
        return live

    def close(self, sid: object, user: str) -> None:
        """End one session (logout)."""
        if isinstance(sid, str) and sid:
            pipe = self._r.pipeline(transaction=True)
            pipe.delete(self._keys.login_session(sid))
            pipe.zrem(self._keys.user_sessions(user), sid)
            pipe.execute()
            self._forget(sid)

    def close_all(self, user: str) -> int:
        """End every session of `user` ("log out everywhere"); return how many were open."""
        index = self._keys.user_sessions(user)
        sids = [s.decode() if isinstance(s, bytes) else str(s) for s in self._r.zrange(index, 0, -1)]
        pipe = self._r.pipeline(transaction=True)
        for sid in sids:
            pipe.delete(self._keys.login_session(sid))
        if sids:
            pipe.zrem(index, *sids)  # not DEL: a login that lands meanwhile stays listed
        closed = sum(int(n) for n in pipe.execute()[: len(sids)])
        for sid in sids:
            self._forget(sid)
        return closed

    def _forget(self, sid: str) -> None:
        # this worker learns at once; the others within check_s
        self._checked[sid] = (self._clock() + self.check_s, False)
