"""Named lists (deny lists, suppressions): read, replace, add, remove, delete; every change audited."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import redis

from common.keys import LIST_ENTRIES_MAX, LIST_STAGING_TTL_S, LISTS_AUDIT_MAX, RedisKeys
from dashapp.store._codec import load_json, text
from dashapp.store.errors import InvalidAction, StoreError
from dashapp.store.list_entries import (
    EntryIn,
    ListInfo,
    ListInUse,
    ListNotFound,
    ListTooLarge,
    Stored,
    check_name,
    sample,
)

logger = logging.getLogger(__name__)

CHUNK = 5_000  # entries per HSET/HDEL/HSCAN round trip: 100,000 entries are 20 commands
_ATTEMPTS = 5
_stored = msgspec.json.Decoder(Stored)
_enc = msgspec.json.Encoder()


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ListStore:
    """Lists at RedisKeys.list_entries; each change bumps the list's version in `lists_index` and
    `lists_version` in the MULTI that applies it, with its audit record.

    Replacements and writes of more than CHUNK entries fill a staging hash CHUNK entries per command
    and RENAME it over the list in the final MULTI: a bridge never loads half a change, and a
    failure leaves the list as it was. `in_use(pipe, name) -> [paths]` reads the live rules (WATCHed
    by delete()) and names the rules and suppressions that use a list; delete() refuses while any do.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        keys: RedisKeys,
        *,
        in_use: Callable[[redis.client.Pipeline, str], list[str]] | None = None,
        clock: Callable[[], float] = time.time,
        max_entries: int = LIST_ENTRIES_MAX,
    ) -> None:
        self._r, self._keys, self._clock = redis_client, keys, clock
        self._in_use = in_use
        self.max_entries = max_entries

    # --- reads -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every list name, sorted."""
        return sorted(n for n in map(text, self._r.hkeys(self._keys.lists_index)) if n)

    def infos(self) -> list[ListInfo]:
        """Every list with its entry count (one pipelined round trip)."""
        index = self._r.hgetall(self._keys.lists_index)
        names = sorted((text(k) or "", int(v)) for k, v in index.items())
        with self._r.pipeline(transaction=False) as pipe:
            for name, _ in names:
                pipe.hlen(self._keys.list_entries(name))
            counts = pipe.execute()
        return [ListInfo(n, int(c), v) for (n, v), c in zip(names, counts, strict=True)]

    def info(self, name: str) -> ListInfo:
        """One list's count and version; ListNotFound if it does not exist."""
        check_name(name)
        with self._r.pipeline(transaction=False) as pipe:
            pipe.hget(self._keys.lists_index, name)
            pipe.hlen(self._keys.list_entries(name))
            version, count = pipe.execute()
        if version is None:
            raise ListNotFound(name)
        return ListInfo(name, int(count), int(version))

    def version(self) -> int:
        """The lists version counter (0 before the first change)."""
        raw = self._r.get(self._keys.lists_version)
        return int(raw) if raw is not None else 0

    def iter_entries(self, name: str) -> Iterator[tuple[str, Stored]]:
        """(value, entry) pairs in value order, read CHUNK at a time (ListNotFound if absent)."""
        self.info(name)
        rows: list[tuple[str, Stored]] = []
        key = self._keys.list_entries(name)
        for value, raw in self._r.hscan_iter(key, count=CHUNK):
            try:
                rows.append((value.decode(), _stored.decode(raw)))
            except (msgspec.DecodeError, UnicodeDecodeError):
                logger.warning("lists: garbage entry skipped key=%s value=%.60r", key, value)
        rows.sort(key=lambda r: r[0])
        return iter(rows)

    def get(self, name: str) -> list[tuple[str, Stored]]:
        """Every entry of a list, sorted by value."""
        return list(self.iter_entries(name))

    def audit(self, limit: int = 50, name: str | None = None) -> list[dict[str, object]]:
        """Newest first: {list, action, who, when, count, values, comment}; optionally one list's."""
        limit = max(1, min(int(limit), LISTS_AUDIT_MAX))
        key = self._keys.lists_audit
        entries = [load_json(raw, key=key) for raw in self._r.lrange(key, 0, LISTS_AUDIT_MAX - 1)]
        found = [e for e in entries if isinstance(e, dict) and (name is None or e.get("list") == name)]
        return found[:limit]

    # --- writes ------------------------------------------------------------------------------
    def put(self, name: str, entries: Sequence[EntryIn], user: str, comment: str = "") -> ListInfo:
        """Replace the list's entries (creating the list); ListTooLarge above the cap."""
        if len(entries) > self.max_entries:
            raise ListTooLarge(f"list {name!r}: {len(entries):,} entries; at most {self.max_entries:,}")
        return self._large(self._new(name, "put", user, comment, entries=entries), replace=True)

    def add(self, name: str, entries: Sequence[EntryIn], user: str, comment: str = "") -> ListInfo:
        """Add or update entries (creating the list); ListTooLarge if the result exceeds the cap."""
        change = self._new(name, "add", user, comment, entries=entries)
        return self._small(change) if len(entries) <= CHUNK else self._large(change, replace=False)

    def remove(self, name: str, values: Sequence[str], user: str, comment: str = "") -> ListInfo:
        """Remove entries by value (values not in the list are ignored); ListNotFound if no list."""
        change = self._new(name, "remove", user, comment, removals=values)
        self.info(name)
        return self._small(change) if len(values) <= CHUNK else self._large(change, replace=False)

    def delete(self, name: str, user: str, comment: str = "") -> None:
        """Delete a list; ListInUse while a rule or suppression of the live rules names it."""
        change = self._new(name, "delete", user, comment)
        for _ in range(_ATTEMPTS):
            with self._r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(self._keys.rules, self._keys.lists_index)
                    if pipe.hget(self._keys.lists_index, name) is None:
                        raise ListNotFound(name)
                    users = self._in_use(pipe, name) if self._in_use is not None else []
                    if users:
                        raise ListInUse(name, users)
                    pipe.multi()
                    pipe.delete(self._keys.list_entries(name))
                    pipe.hdel(self._keys.lists_index, name)
                    pipe.incr(self._keys.lists_version)
                    self._audit(pipe, change)
                    pipe.execute()
                except redis.WatchError:
                    continue
            logger.info("lists: deleted list=%s by=%s", name, user)
            return
        raise StoreError("rules or lists are changing too often; try again")

    def _new(
        self,
        name: str,
        action: str,
        user: str,
        comment: str,
        *,
        entries: Sequence[EntryIn] = (),
        removals: Sequence[str] = (),
    ) -> _Change:
        check_name(name)
        if not isinstance(user, str) or not user.strip():
            raise InvalidAction("user must be a non-empty name")
        at = _iso(self._clock())
        rows = {e.value: _enc.encode(Stored(e.expires_ms, e.note, user, at)) for e in entries}
        return _Change(name, action, user, comment[:500], at, rows, list(removals))

    def _small(self, change: _Change) -> ListInfo:
        """One MULTI; the cap is checked against HLEN and the new values under WATCH, so it is exact."""
        key, rows = self._keys.list_entries(change.name), change.rows
        for _ in range(_ATTEMPTS):
            with self._r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    fresh = sum(v is None for v in pipe.hmget(key, list(rows))) if rows else 0
                    if int(pipe.hlen(key)) + fresh > self.max_entries:
                        raise ListTooLarge(f"list {change.name!r}: at most {self.max_entries:,} entries")
                    pipe.multi()
                    if rows:
                        pipe.hset(key, mapping=rows)  # type: ignore[arg-type]
                    if change.removals:
                        pipe.hdel(key, *change.removals)
                    pipe.hlen(key)
                    at = self._finish(pipe, change)
                    result = pipe.execute()
                except redis.WatchError:
                    continue
            return self._done(change, int(result[at - 1]), int(result[at]))
        raise StoreError(f"list {change.name!r} is changing too often; try again")

    def _large(self, change: _Change, *, replace: bool) -> ListInfo:
        """Fill a staging hash CHUNK entries per command, then swap it in under WATCH of the list."""
        key, rows, removals = self._keys.list_entries(change.name), list(change.rows.items()), change.removals
        for _ in range(_ATTEMPTS):
            staging = self._keys.list_staging(change.name, secrets.token_hex(6))
            try:
                with self._r.pipeline(transaction=True) as pipe:
                    try:
                        pipe.watch(key)
                        if not replace and pipe.exists(key):
                            pipe.copy(key, staging)
                        for i in range(0, len(rows), CHUNK):
                            pipe.hset(staging, mapping=dict(rows[i : i + CHUNK]))
                            pipe.expire(staging, LIST_STAGING_TTL_S)
                        for i in range(0, len(removals), CHUNK):
                            pipe.hdel(staging, *removals[i : i + CHUNK])
                            pipe.expire(staging, LIST_STAGING_TTL_S)
                        count = int(pipe.hlen(staging))
                        if count > self.max_entries:
                            raise ListTooLarge(
                                f"list {change.name!r}: {count:,} entries; at most {self.max_entries:,}"
                            )
                        pipe.multi()
                        pipe.delete(key)
                        if count:
                            pipe.rename(staging, key)
                            pipe.persist(key)
                        at = self._finish(pipe, change)
                        result = pipe.execute()
                    except redis.WatchError:
                        continue
            finally:
                self._r.delete(staging)  # renamed away on success; left over on any failure
            return self._done(change, count, int(result[at]))
        raise StoreError(f"list {change.name!r} is changing too often; try again")

    def _finish(self, pipe: redis.client.Pipeline, change: _Change) -> int:
        """Queue the list's version bump, the global one and the audit record; return the index of
        the list version's reply in the MULTI's results."""
        at = len(pipe.command_stack)
        pipe.hincrby(self._keys.lists_index, change.name, 1)
        pipe.incr(self._keys.lists_version)
        self._audit(pipe, change)
        return at

    def _audit(self, pipe: redis.client.Pipeline, change: _Change) -> None:
        values = [*change.rows, *change.removals]
        entry = {
            "list": change.name,
            "action": change.action,
            "who": change.user,
            "when": change.at,
            "count": len(values),
            "values": sample(values),
            "comment": change.comment,
        }
        pipe.lpush(self._keys.lists_audit, _enc.encode(entry))
        pipe.ltrim(self._keys.lists_audit, 0, LISTS_AUDIT_MAX - 1)
        pipe.incr(self._keys.seq)

    @staticmethod
    def _done(change: _Change, count: int, version: int) -> ListInfo:
        n = len(change.rows) + len(change.removals)
        logger.info(
            "lists: %s list=%s by=%s n=%d count=%d", change.action, change.name, change.user, n, count
        )
        return ListInfo(change.name, count, version)


@dataclass(frozen=True)
class _Change:
    """One write: what, by whom, and the encoded rows to set or values to remove."""

    name: str
    action: str
    user: str
    comment: str
    at: str
    rows: dict[str, bytes]
    removals: list[str]
