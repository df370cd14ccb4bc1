"""A list's values in order (a ZSET kept up to date from its change records): one page costs O(page)."""

from __future__ import annotations

import logging
import secrets

import msgspec
import redis

from common.keys import RedisKeys
from dashapp.store._codec import text

logger = logging.getLogger(__name__)

CHUNK = 5_000  # values per HSCAN / ZADD / HMGET round trip
_GLOB_SPECIAL = frozenset("*?[]\\")


class _Change(msgspec.Struct):
    """One record of RedisKeys.list_changes: the list version it made and the values it touched."""

    v: int
    values: list[str] | None = None  # None: the whole list changed


_change = msgspec.json.Decoder(_Change)


def contains_glob(needle: str) -> str:
    """A Redis MATCH pattern at least as wide as a case-insensitive "contains": ASCII letters as
    [aA], glob characters escaped, other characters as `*` (MATCH compares bytes; the caller
    filters the matches exactly)."""
    parts = []
    for ch in needle:
        if ch.isascii() and ch.isalpha():
            parts.append(f"[{ch.lower()}{ch.upper()}]")
        elif ch in _GLOB_SPECIAL:
            parts.append("\\" + ch)
        elif ch.isascii():
            parts.append(ch)
        else:
            parts.append("*")
    return "*" + "".join(parts) + "*"


class ListOrder:
    """Keeps RedisKeys.list_order(name) equal to the list's values for the list version read.

    sync() reads the version it reflects and the list's change records: when the records cover every
    change since, only the values they name are checked (HMGET, then ZADD / ZREM); otherwise (a
    replacement, a big change, a list re-created, an index never built) the list is scanned into a
    new ZSET renamed over the old one. Concurrent syncs are harmless: each step is idempotent and a
    version written out of order only makes the next sync re-check a few values.
    """

    def __init__(self, redis_client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._keys = redis_client, keys

    def sync(self, name: str, version: int, count: int) -> None:
        """Bring the order of list `name` (now at `version`, with `count` entries) up to date; an
        order whose size differs from the list's afterwards (lost, or changed meanwhile) is rebuilt."""
        k = self._keys
        with self._r.pipeline(transaction=False) as pipe:
            pipe.hget(k.list_order_versions, name)
            pipe.lrange(k.list_changes(name), 0, -1)
            pipe.zcard(k.list_order(name))
            raw_known, raw_records, size = pipe.execute()
        known = int(raw_known) if raw_known is not None else None
        if known == version and int(size) == count:
            return
        try:
            records = [_change.decode(r) for r in raw_records]
        except msgspec.DecodeError:
            records = []
        newer = [r for r in records if known is not None and r.v > known]
        covered = any(r.v == known for r in records) and all(r.values is not None for r in newer)
        if covered and newer:
            self._delta(name, sorted({v for r in newer for v in r.values or ()}))
        if not (covered and newer) or int(self._r.zcard(k.list_order(name))) != count:
            self._rebuild(name)
        self._r.hset(k.list_order_versions, name, version)

    def forget(self, name: str) -> None:
        """Drop the order of a list that no longer exists."""
        with self._r.pipeline(transaction=False) as pipe:
            pipe.delete(self._keys.list_order(name))
            pipe.hdel(self._keys.list_order_versions, name)
            pipe.execute()

    def _delta(self, name: str, touched: list[str]) -> None:
        key, order = self._keys.list_entries(name), self._keys.list_order(name)
        for start in range(0, len(touched), CHUNK):
            chunk = touched[start : start + CHUNK]
            present = self._r.hmget(key, chunk)
            add = {v: 0 for v, raw in zip(chunk, present, strict=True) if raw is not None}
            gone = [v for v, raw in zip(chunk, present, strict=True) if raw is None]
            with self._r.pipeline(transaction=False) as pipe:
                if add:
                    pipe.zadd(order, add)
                if gone:
                    pipe.zrem(order, *gone)
                pipe.execute()

    def _rebuild(self, name: str) -> None:
        """Scan the list into a fresh ZSET renamed over the order (pages read the old one until then)."""
        order = self._keys.list_order(name)
        fresh = self._keys.list_order_staging(name, secrets.token_hex(6))
        try:
            batch: dict[str, int] = {}
            count = 0
            for value, _ in self._r.hscan_iter(self._keys.list_entries(name), count=CHUNK):
                batch[text(value) or ""] = 0
                if len(batch) >= CHUNK:
                    count += self._flush(fresh, batch)
            count += self._flush(fresh, batch)
            if count:
                with self._r.pipeline(transaction=True) as pipe:
                    pipe.rename(fresh, order)
                    pipe.persist(order)
                    pipe.execute()
            else:
                self._r.delete(order)
        finally:
            self._r.delete(fresh)  # renamed away on success; left over on any failure
        logger.info("lists: order rebuilt list=%s values=%d", name, count)

    def _flush(self, key: str, batch: dict[str, int]) -> int:
        if not batch:
            return 0
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zadd(key, batch)
            pipe.expire(key, 3_600)  # a crashed rebuild leaves nothing behind for long
            pipe.execute()
        n = len(batch)
        batch.clear()
        return n
