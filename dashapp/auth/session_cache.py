"""Signed session cookies verified once per cookie value per worker, not on every 1 s poll."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature


class CachedCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with verified cookie values remembered until they expire.

    A cookie value always decodes to the same data, so remembering (value -> data, expiry) is exact;
    a tampered or expired value is never in the cache and goes through the normal check. Each hit
    returns a fresh session object, so a request that changes its session changes only its copy.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        val = request.cookies.get(self.get_cookie_name(app))
        data = self.load(app, val) if val else None
        return self.session_class(data or {})

    def load(self, app: Flask, val: str) -> dict[str, Any] | None:
        """The data of a signed cookie value, None if it is forged, expired or not a session."""
        now = time.time()
        with self._lock:
            hit = self._cache.get(val)
        if hit is not None and hit[0] > now:
            return dict(hit[1])
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(val, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        self._remember(val, signed_at.timestamp() + max_age, data)
        return dict(data)

    def _remember(self, val: str, expires: float, data: dict[str, Any]) -> None:
        with self._lock:
            self._cache[val] = (expires, dict(data))
            self._cache.move_to_end(val)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
