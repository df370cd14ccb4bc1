"""Reading named lists: names, counts, versions, entries (CHUNK per round trip) and the audit."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import msgspec
import redis

from common.keys import LISTS_AUDIT_MAX, RedisKeys
from dashapp.store._codec import load_json, text
from dashapp.store.list_entries import ListInfo, ListNotFound, Stored, check_name
from dashapp.store.list_order import ListOrder, contains_glob

logger = logging.getLogger(__name__)

CHUNK = 5_000  # entries per HSET/HDEL/HSCAN round trip: 100,000 entries are 20 commands
_stored = msgspec.json.Decoder(Stored)


class ListReader:
    """The read side of dashapp.store.lists.ListStore (the API and the Lists tab read through it)."""

    def __init__(self, redis_client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._keys = redis_client, keys
        self._order = ListOrder(redis_client, keys)

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

    def entry(self, name: str, value: str) -> Stored | None:
        """One entry of a list (None if the value is not in it); ListNotFound if there is no list."""
        check_name(name)
        with self._r.pipeline(transaction=False) as pipe:
            pipe.hget(self._keys.lists_index, name)
            pipe.hget(self._keys.list_entries(name), value)
            version, raw = pipe.execute()
        if version is None:
            raise ListNotFound(name)
        if raw is None:
            return None
        try:
            return _stored.decode(raw)
        except msgspec.DecodeError:
            logger.warning("lists: garbage entry list=%s value=%.60r", name, value)
            return None

    def page(
        self, name: str, page: int, size: int, contains: str = ""
    ) -> tuple[list[tuple[str, Stored]], int, int]:
        """(the entries of `page` in value order, the page shown, how many entries match).

        Reads a range of the list's order index (ListOrder; kept up to date from the change records),
        so a page costs O(page) whatever the list's size. `contains` keeps values holding that text
        (case-insensitive): Redis filters the index (ZSCAN MATCH), only matches reach Python. A page
        past the end shows the last one. ListNotFound if there is no list.
        """
        try:
            info = self.info(name)
        except ListNotFound:
            self._order.forget(name)
            raise
        self._order.sync(name, info.version, info.count)
        key = self._keys.list_order(name)
        needle = contains.strip().lower()
        if needle:
            pattern = contains_glob(needle)
            found = sorted(
                v for v in (text(m) or "" for m, _ in self._r.zscan_iter(key, match=pattern, count=CHUNK))
                if needle in v.lower()
            )  # fmt: skip
            total = len(found)
        else:
            total = int(self._r.zcard(key))
        page = min(max(0, page), max(0, (total - 1) // size))
        start = page * size
        if needle:
            values = found[start : start + size]
        else:
            values = [text(m) or "" for m in self._r.zrange(key, start, start + size - 1)]
        raws = self._r.hmget(self._keys.list_entries(name), values) if values else []
        rows = []
        for value, raw in zip(values, raws, strict=True):
            try:
                if raw is not None:  # removed since the order was read: the next page read drops it
                    rows.append((value, _stored.decode(raw)))
            except msgspec.DecodeError:
                logger.warning("lists: garbage entry skipped list=%s value=%.60r", name, value)
        return rows, page, total

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
