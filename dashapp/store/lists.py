"""Named lists (deny lists, suppressions): read, replace, add, remove, delete; every change audited."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import redis

from common.keys import (
    LIST_CHANGES_MAX,
    LIST_DELTA_MAX,
    LIST_ENTRIES_MAX,
    LIST_STAGING_TTL_S,
    LISTS_AUDIT_MAX,
    RedisKeys,
)
from dashapp.store import outbox_events
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
from dashapp.store.list_reads import CHUNK, ListReader

logger = logging.getLogger(__name__)

_ATTEMPTS = 5
# The list's version is the global lists counter at its change (monotonic even across a delete and
# re-create), and its change record carries it, so a bridge can tell whether its log is complete.
_STAMP = """
local v = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], v)
redis.call('LPUSH', KEYS[3], '{"v":' .. v .. ',"values":' .. ARGV[2] .. '}')
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1)
return v
"""
_enc = msgspec.json.Encoder()


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ListStore(ListReader):
    """Lists at RedisKeys.list_entries; each change bumps the list's version in `lists_index` and
    `lists_version` in the MULTI that applies it, with its audit record and its change record
    (`list_changes`: the values touched, so a bridge re-reads only those; null = reload it all).

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
        outbox: bool = True,  # False only for the rebuild (outbox/rebuild.py): it replays events
    ) -> None:
        super().__init__(redis_client, keys)
        self._clock, self._in_use = clock, in_use
        self.max_entries = max_entries
        self._outbox = outbox

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
                    pipe.delete(self._keys.list_changes(name))
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
                    at = self._finish(pipe, change, whole=False)
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
                        at = self._finish(pipe, change, whole=True)
                        result = pipe.execute()
                    except redis.WatchError:
                        continue
            finally:
                self._r.delete(staging)  # renamed away on success; left over on any failure
            return self._done(change, count, int(result[at]))
        raise StoreError(f"list {change.name!r} is changing too often; try again")

    def _finish(self, pipe: redis.client.Pipeline, change: _Change, *, whole: bool) -> int:
        """Queue the version stamp (the list's and the global one, the change record) and the audit
        record; return the index of the new version's reply in the MULTI's results."""
        at = len(pipe.command_stack)
        touched = [*change.rows, *change.removals]
        values = "null" if whole or len(touched) > LIST_DELTA_MAX else _enc.encode(touched).decode()
        k = self._keys
        pipe.eval(
            _STAMP,
            3,
            k.lists_index,
            k.lists_version,
            k.list_changes(change.name),
            change.name,
            values,
            LIST_CHANGES_MAX,
        )
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
        if self._outbox:  # every write path audits inside its MULTI, so its event rides there too
            c = change
            events = outbox_events.list_events(
                c.name, c.action, user=c.user, at=c.at, comment=c.comment, rows=c.rows, removals=c.removals
            )
            outbox_events.queue(pipe, self._keys, events)

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
