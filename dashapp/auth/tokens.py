"""Per-user API tokens: created and revoked by admins, stored as SHA-256 digests, sent as Bearer."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask, Response, current_app, g, jsonify, request

from common.keys import RedisKeys
from dashapp.auth.users import User, UserDirectory

logger = logging.getLogger(__name__)

PREFIX = "fdt_"  # marks the secret for secret scanners and tells it from a Basic credential
TOKEN_RE = re.compile(r"fdt_[A-Za-z0-9_-]{43}")  # the prefix and 32 random bytes, base64url
ID_RE = re.compile(r"tok_[0-9a-f]{12}")
NAME_RE = re.compile(r"[A-Za-z0-9 _.:@-]{0,64}")
TOUCH_EVERY_S = 60.0  # last-used time is kept to the minute: no Redis write per request
MAX_TOKENS = 1000


class TokenError(ValueError):
    """A token request that cannot be done (unknown user, bad name, too many tokens)."""


@dataclass(frozen=True)
class TokenInfo:
    """What admins see of a token: never the secret, never its digest."""

    id: str
    user: str
    name: str
    created_ms: int
    last_used_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "created_ms": self.created_ms,
            "last_used_ms": self.last_used_ms,
        }


def digest(secret: str) -> str:
    """Hex SHA-256 of a token: a 256-bit random secret needs no salt, pepper or slow hash."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse_bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer fdt_...` header; None if it is not one."""
    if not header or len(header) > 200:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not TOKEN_RE.fullmatch(token):
        return None
    return token


def is_bearer(header: str | None) -> bool:
    """Whether the Authorization header uses the Bearer scheme (well-formed or not)."""
    return bool(header) and str(header).strip()[:7].lower() == "bearer "


def _info(raw: bytes | str, used: dict[Any, Any]) -> TokenInfo | None:
    """A stored record as TokenInfo (with its last use from `used`); None if unreadable."""
    try:
        rec = json.loads(raw)
        tid = str(rec["id"])
        last = used.get(tid.encode(), used.get(tid))
        return TokenInfo(tid, str(rec["user"]), str(rec["name"]), int(rec["created_ms"]),
                         int(last) if last is not None else None)  # fmt: skip
    except (ValueError, KeyError, TypeError):
        logger.warning("dashapp.tokens: unreadable token record skipped")
        return None


class TokenStore:
    """Create, list, revoke and check tokens in Redis (keys in common/keys.py, "API tokens")."""

    def __init__(
        self, redis_client: redis.Redis, keys: RedisKeys, clock: Callable[[], float] = time.time
    ) -> None:
        self._r, self._keys, self._clock = redis_client, keys, clock
        self._lock = threading.Lock()
        self._touched: dict[str, float] = {}  # token id -> when this worker last wrote its use

    def create(self, user: str, name: str = "") -> tuple[TokenInfo, str]:
        """A new token of `user`: its info and the secret, which exists nowhere else afterwards."""
        if not NAME_RE.fullmatch(name):
            raise TokenError("token name: up to 64 letters, digits, spaces and _ . : @ -")
        if self._r.hlen(self._keys.api_tokens) >= MAX_TOKENS:
            raise TokenError(f"too many tokens (max {MAX_TOKENS}); revoke unused ones first")
        secret = PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(f"tok_{secrets.token_hex(6)}", user, name, int(self._clock() * 1000))
        record = {**info.to_dict(), "digest": digest(secret)}
        del record["last_used_ms"]
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self._keys.api_tokens, info.id, json.dumps(record))
        pipe.hset(self._keys.api_token_digests, record["digest"], json.dumps({"id": info.id, "user": user}))
        pipe.execute()
        logger.info("dashapp.tokens: created id=%s user=%s name=%r", info.id, user, name)
        return info, secret

    def all(self) -> list[TokenInfo]:
        """Every token, oldest first, with its last use."""
        records = self._r.hgetall(self._keys.api_tokens)
        used = self._r.hgetall(self._keys.api_tokens_used)
        found = (_info(raw, used) for raw in records.values())
        out = [t for t in found if t is not None]
        return sorted(out, key=lambda t: (t.created_ms, t.id))

    def revoke(self, token_id: str) -> TokenInfo | None:
        """Delete a token at once (every worker asks Redis on each request); None if unknown."""
        if not isinstance(token_id, str) or not ID_RE.fullmatch(token_id):
            return None
        raw = self._r.hget(self._keys.api_tokens, token_id)
        info = _info(raw, {}) if raw is not None else None
        if raw is None or info is None:
            return None
        pipe = self._r.pipeline(transaction=True)
        pipe.hdel(self._keys.api_token_digests, json.loads(raw).get("digest", ""))
        pipe.hdel(self._keys.api_tokens, token_id)
        pipe.hdel(self._keys.api_tokens_used, token_id)
        pipe.execute()
        logger.info("dashapp.tokens: revoked id=%s user=%s", token_id, info.user)
        return info

    def check(self, secret: str) -> tuple[str, str] | None:
        """(token id, user name) of a live token: one HGET by digest, and a use noted once a minute."""
        raw = self._r.hget(self._keys.api_token_digests, digest(secret))
        if raw is None:
            return None
        try:
            rec = json.loads(raw)
            found = str(rec["id"]), str(rec["user"])
        except (ValueError, KeyError, TypeError):
            return None
        self._touch(found[0])
        return found

    def _touch(self, token_id: str) -> None:
        now = self._clock()
        with self._lock:
            if now - self._touched.get(token_id, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
                return
            if len(self._touched) >= MAX_TOKENS:
                self._touched.clear()
            self._touched[token_id] = now
        self._r.hset(self._keys.api_tokens_used, token_id, int(now * 1000))


EXTENSION = "dashapp.tokens"  # the app's TokenStore in server.extensions (the access guard reads it)


def install_tokens(server: Flask, store: TokenStore) -> None:
    """Make `store` the one the access guard checks Bearer tokens against."""
    server.extensions[EXTENSION] = store


def token_user(users: UserDirectory) -> User | Response | None:
    """The user of this request's Bearer token, a 503 if Redis cannot say, or None (refused)."""
    store = current_app.extensions.get(EXTENSION)
    secret = parse_bearer(request.headers.get("Authorization"))
    try:
        found = store.check(secret) if isinstance(store, TokenStore) and secret else None
    except redis.RedisError as exc:
        logger.warning("dashapp.auth: cannot check a bearer token error=%s", exc)
        resp = jsonify(error="cannot check the token now; try again")
        resp.status_code = 503
        return resp
    user = users.get(found[1]) if found else None
    if user is None:  # never the token itself in the log: it may be a live one mistyped by one char
        logger.warning("dashapp.auth: bearer token refused addr=%s", request.remote_addr)
        return None
    g.api_token_id = found[0] if found else ""
    return user
