"""Alert search over the per-field index ZSETs: a page, the match count, every match for export."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

import redis

from common.alerts import OPEN_STATUSES
from common.keys import RECENT_TXNS_MAX, RedisKeys
from dashapp.store import feeds
from dashapp.store._codec import str_hash, text, to_float, to_int
from dashapp.store.alert_rows import AlertRow, fetch_rows
from dashapp.store.models import TxnRow
from dashapp.store.search_query import OPEN, AlertQuery, matches
from dashapp.store.search_sets import IndexIntersection

CHUNK = 2_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class SearchResult:
    """One page of matches, newest (or oldest) first, and how many match in all."""

    rows: tuple[AlertRow, ...]
    total: int
    exact: bool = True  # False: `total` is a lower bound (kept for API callers; every count is exact)


@dataclass(frozen=True)
class CardHistory:
    """A card's other alerts (newest first) and its transactions still in the recent stream."""

    card_id: str
    alerts: tuple[AlertRow, ...]
    alert_total: int
    txns: tuple[TxnRow, ...]


@dataclass(frozen=True)
class RetentionInfo:
    """The bridge's retention as last reported, with a live count of open alerts past it."""

    days: float | None  # None: no bridge has swept yet
    kept_unresolved: int  # open alerts older than the retention (never dropped)
    swept: int  # alerts the sweep dropped so far
    at_ms: int | None


@dataclass
class _Scan:
    """Where a driver scan got to (the generator reports through it)."""

    examined: int = 0
    complete: bool = False
    seen: set[str] = field(default_factory=set)


class AlertSearch:
    """Searches every alert kept in Redis; cost follows the smallest matching index, not the total."""

    def __init__(self, redis_client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._keys = redis_client, keys
        self._sets = IndexIntersection(redis_client)

    def _groups(self, q: AlertQuery) -> list[list[str]]:
        """Index keys per filter; an alert matches if it is in at least one key of every group."""
        k = self._keys
        if q.assignee and q.status == OPEN and not (q.card or q.merchant or q.rule):
            return [[k.alert_queue(q.assignee)]]  # my queue: one index of open alerts per assignee
        groups = [
            [key]
            for value, key_of in (
                (q.card, k.alerts_by_card),
                (q.merchant, k.alerts_by_merchant),
                (q.rule, k.alerts_by_rule),
                (q.assignee, k.alerts_by_assignee),
            )
            if value
            for key in (key_of(value),)
        ]
        if q.status:
            statuses = OPEN_STATUSES if q.status == OPEN else (q.status,)
            groups.append([k.alerts_by_status(s) for s in statuses])
        return groups

    @staticmethod
    def _bounds(q: AlertQuery) -> tuple[int | str, int | str]:
        return ("-inf" if q.since_ms is None else q.since_ms), ("+inf" if q.until_ms is None else q.until_ms)

    def search(self, q: AlertQuery) -> SearchResult:
        """One page of ``q`` and its exact match count."""
        if q.alert_id:
            one = [r for r in fetch_rows(self._r, self._keys, [q.alert_id]) if matches(r, q)]
            return SearchResult(tuple(one[q.offset : q.offset + q.limit]), len(one))
        groups, (lo, hi) = self._groups(q), self._bounds(q)
        if len(groups) > 1:  # several filters: intersected inside Redis, exact count and one page
            count, found = self._sets.page(
                [g[0] for g in groups if len(g) == 1],
                next((g for g in groups if len(g) > 1), []),
                (lo, hi),
                newest_first=not q.oldest_first,
                offset=q.offset,
                limit=q.limit,
            )
            rows = tuple(r for r in fetch_rows(self._r, self._keys, found) if matches(r, q))
            return SearchResult(rows, count)
        keys = groups[0] if groups else [self._keys.alert_index]
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.zcount(key, lo, hi)
        total = sum(to_int(n) for n in pipe.execute())  # the status indexes are disjoint
        if len(keys) > 1:  # status "open": scan the time index until the page is full
            return SearchResult(self._page(q), total)
        first, last = (lo, hi) if q.oldest_first else (hi, lo)
        ids = self._r.zrange(
            keys[0], first, last, byscore=True, desc=not q.oldest_first, offset=q.offset, num=q.limit
        )
        return SearchResult(tuple(r for r in fetch_rows(self._r, self._keys, ids) if matches(r, q)), total)

    def _page(self, q: AlertQuery) -> tuple[AlertRow, ...]:
        """The page's rows, scanning the time index only until the page is full."""
        wanted = []
        for count, alert_id in enumerate(self._ids(q, _Scan(), None), 1):
            if count > q.offset:
                wanted.append(alert_id)
            if count >= q.offset + q.limit:
                break
        return tuple(r for r in fetch_rows(self._r, self._keys, wanted) if matches(r, q))

    def _ids(self, q: AlertQuery, scan: _Scan, max_examined: int | None) -> Iterator[str]:
        """Matching ids in order: the smallest index in the time range drives, the others are checked."""
        groups, (lo, hi) = self._groups(q), self._bounds(q)
        candidates = [g[0] for g in groups if len(g) == 1] or [self._keys.alert_index]
        pipe = self._r.pipeline(transaction=False)
        for key in candidates:
            pipe.zcount(key, lo, hi)
        counts = [to_int(n) for n in pipe.execute()]
        driver = candidates[counts.index(min(counts))]
        checks = [g for g in groups if g != [driver]]
        # Rank of the first entry in range, counted from the end the scan starts at.
        if q.oldest_first:
            skip = 0 if q.since_ms is None else self._r.zcount(driver, "-inf", f"({q.since_ms}")
        else:
            skip = 0 if q.until_ms is None else self._r.zcount(driver, f"({q.until_ms}", "+inf")
        low = -math.inf if q.since_ms is None else q.since_ms
        high = math.inf if q.until_ms is None else q.until_ms
        read = self._r.zrange if q.oldest_first else self._r.zrevrange
        rank, end = to_int(skip), to_int(skip) + min(counts)
        while rank < end:
            if max_examined is not None and scan.examined >= max_examined:
                return
            found = cast(
                list[tuple[bytes, float]], read(driver, rank, min(end, rank + CHUNK) - 1, withscores=True)
            )
            if not found:
                break
            scan.examined += len(found)
            rank += CHUNK
            ids = [t for m, s in found if low <= s <= high and (t := text(m) or "") not in scan.seen]
            scan.seen.update(ids)  # ranks shift when alerts arrive mid-scan: never yield one twice
            yield from self._check(ids, checks)
        scan.complete = True

    def _check(self, ids: list[str], checks: list[list[str]]) -> list[str]:
        if not ids or not checks:
            return ids
        pipe = self._r.pipeline(transaction=False)
        for group in checks:
            for key in group:
                pipe.zmscore(key, ids)
        replies, ok = iter(pipe.execute()), [True] * len(ids)
        for group in checks:
            inside = [False] * len(ids)
            for _ in group:
                for i, score in enumerate(next(replies)):
                    inside[i] = inside[i] or score is not None
            ok = [a and b for a, b in zip(ok, inside, strict=True)]
        return [m for m, keep in zip(ids, ok, strict=True) if keep]

    def iter_rows(self, q: AlertQuery, chunk: int = 500) -> Iterator[AlertRow]:
        """Every match of ``q`` in order (offset and limit ignored), read ``chunk`` records at a time."""
        if q.alert_id:
            yield from (r for r in fetch_rows(self._r, self._keys, [q.alert_id]) if matches(r, q))
            return
        batch: list[str] = []
        for alert_id in self._ids(q, _Scan(), None):
            batch.append(alert_id)
            if len(batch) >= chunk:
                yield from (r for r in fetch_rows(self._r, self._keys, batch) if matches(r, q))
                batch = []
        yield from (r for r in fetch_rows(self._r, self._keys, batch) if matches(r, q))

    def card_history(self, card_id: str, limit: int = 20) -> CardHistory:
        """The card's alerts (newest ``limit``) and its transactions among the recent stream's entries."""
        found = self.search(AlertQuery(card=card_id, limit=max(1, min(limit, 200))))
        entries = self._r.xrevrange(self._keys.txns, count=RECENT_TXNS_MAX) or []
        txns: list[TxnRow] = []
        for entry_id, fields in entries:
            payload = fields.get(b"d") if isinstance(fields, dict) else None
            if (
                not isinstance(payload, bytes) or card_id.encode() not in payload
            ):  # cheap pre-check before decoding
                continue
            try:
                row = feeds.decode_txn(text(entry_id) or "", payload)
            except ValueError:
                continue
            if row.card_id == card_id:
                txns.append(row)
                if len(txns) >= limit:
                    break
        return CardHistory(card_id, found.rows, found.total, tuple(txns))

    def retention(self, now_ms: int) -> RetentionInfo:
        """The sweep's last report, with the open alerts past the retention counted now."""
        report = str_hash(self._r.hgetall(self._keys.alert_retention))
        days = to_float(report.get("days"), 0.0, key=self._keys.alert_retention)
        if days <= 0:
            return RetentionInfo(None, 0, 0, None)
        cutoff = int(now_ms) - int(days * DAY_MS)
        pipe = self._r.pipeline(transaction=False)
        for status in OPEN_STATUSES:
            pipe.zcount(self._keys.alerts_by_status(status), "-inf", cutoff)
        kept = sum(to_int(n) for n in pipe.execute())
        swept = to_int(report.get("swept"), key=self._keys.alert_retention)
        return RetentionInfo(days, kept, swept, to_int(report.get("at_ms"), key=self._keys.alert_retention))
