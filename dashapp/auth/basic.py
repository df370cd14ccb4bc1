"""HTTP Basic for /api/*: parse defensively, verify with scrypt once, cache the result briefly."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections.abc import Callable

from dashapp.auth.users import MAX_PASSWORD_LEN, User, UserDirectory

MAX_HEADER_LEN = 4096
MAX_CACHE_ENTRIES = 1024


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return (user, password) from an Authorization header, or None if absent or malformed."""
    if not header or len(header) > MAX_HEADER_LEN:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    name, sep, password = decoded.partition(":")
    if not sep or not name or len(password) > MAX_PASSWORD_LEN:
        return None
    return name, password


class BasicVerifier:
    """Per-process cache of successful Basic checks keyed by user and sha256(password)."""

    def __init__(
        self, users: UserDirectory, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._users = users
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, bytes, str]] = {}  # name -> (expiry, pw digest, user id)

    def verify(self, name: str, password: str) -> User | None:
        """Return the user for valid credentials; scrypt runs only on a cache miss."""
        digest = hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        with self._lock:
            hit = self._cache.get(name)
        if hit and hit[0] > now and hmac.compare_digest(hit[1], digest):
            user = self._users.get(name)
            # The user id embeds the hash digest: a changed password or deleted user misses.
            if user is not None and hmac.compare_digest(user.get_id(), hit[2]):
                return user
        user = self._users.verify(name, password)
        if user is not None:
            with self._lock:
                if len(self._cache) >= MAX_CACHE_ENTRIES:
                    self._cache.clear()
                self._cache[name] = (now + self._ttl, digest, user.get_id())
        return user
