"""DashboardReader: every read the Dash UI and the JSON API make, one facade over Redis."""

from __future__ import annotations

from typing import Any

import redis

from common.alerts import Alert
from common.keys import RECENT_ALERTS_MAX, RECENT_TXNS_MAX, RedisKeys
from dashapp.store import alert_rows, feeds, health, metrics
from dashapp.store._codec import str_hash, to_int
from dashapp.store.alert_rows import AlertRow, Banner
from dashapp.store.buckets import BucketReader
from dashapp.store.models import CityAgg, Health, Kpis, Quality, SecondBucket, TxnRow
from dashapp.store.rates import rates_of


class DashboardReader:
    """Read-only views of the pipeline's Redis state; cheap, defensive, plain return values.

    Missing keys read as empty/zero, garbage values are logged and skipped: no method raises
    because of what is (or is not) stored. Redis connection errors do propagate.
    """

    def __init__(
        self, redis_client: redis.Redis, keys: RedisKeys, *, kpi_window_s: int = 10, settle_s: int = 2
    ) -> None:
        self._r = redis_client
        self._keys = keys
        self.kpi_window_s = kpi_window_s
        self.settle_s = settle_s  # seconds newer than now - settle_s may still receive late writes
        self._buckets = BucketReader(redis_client, keys)

    @property
    def keys(self) -> RedisKeys:
        """The key layout this reader reads (for the other store objects built next to it)."""
        return self._keys

    def seq(self) -> int:
        """Return the change counter (one GET); unchanged means nothing to redraw."""
        return to_int(self._r.get(self._keys.seq), key=self._keys.seq)

    def rates(self) -> dict[str, float]:
        """The live rules' exchange rates, US dollars per unit (one GET; dashapp/store/rates.py)."""
        raw = self._r.get(self._keys.rules)
        return rates_of(raw if isinstance(raw, bytes) or raw is None else str(raw).encode())

    def kpis(self, now_ms: int) -> Kpis:
        """Return the KPI cards' numbers (one pipelined round trip)."""
        return metrics.read_kpis(self._r, self._keys, now_ms, self.kpi_window_s, self.settle_s)

    def txns_since(
        self, cursor: str | None, limit: int = 200, *, tail: bool = False
    ) -> tuple[list[TxnRow], str]:
        """Return transactions after ``cursor`` oldest first, and the next cursor.

        ``cursor`` None (or invalid) gives the newest ``limit``. With ``tail`` a backlog larger
        than ``limit`` is skipped (only the newest ``limit`` after the cursor are returned).
        """
        rows, cur = feeds.read_since(
            self._r, self._keys.txns, cursor, limit, feeds.decode_txn, tail=tail, max_limit=RECENT_TXNS_MAX
        )
        return rows, cur or feeds.EMPTY_CURSOR

    def alerts_since(
        self, cursor: str | None, limit: int = 100, *, tail: bool = False
    ) -> tuple[list[Alert], str]:
        """Return alerts from the live stream after ``cursor`` oldest first, and the next cursor."""
        rows, cur = feeds.read_since(
            self._r,
            self._keys.alerts,
            cursor,
            limit,
            feeds.decode_stream_alert,
            tail=tail,
            max_limit=RECENT_ALERTS_MAX,
        )
        return rows, cur or feeds.EMPTY_CURSOR

    def alert_entries(self, limit: int = 200) -> tuple[list[tuple[str, Alert]], str]:
        """Return the newest ``limit`` live-stream alerts with their entry ids, oldest first, and the
        newest entry id (the cursor after all of them)."""
        rows, cur = feeds.read_since(
            self._r,
            self._keys.alerts,
            None,
            limit,
            feeds.decode_stream_entry,
            max_limit=RECENT_ALERTS_MAX,
        )
        return rows, cur or feeds.EMPTY_CURSOR

    def last_complete_second(self, now_ms: int) -> int:
        """The newest second throughput() and throughput_since() include."""
        return metrics.last_complete_second(now_ms, self.settle_s)

    def throughput(self, window_s: int, now_ms: int) -> list[SecondBucket]:
        """Return one bucket per second for the last ``window_s`` (<= 3600) complete seconds."""
        last = self.last_complete_second(now_ms)
        window = max(1, min(int(window_s), metrics.MAX_WINDOW_S))
        return self._buckets.read(last - window + 1, last)

    def throughput_since(self, last_second: int | None, now_ms: int) -> list[SecondBucket]:
        """Return buckets for the complete seconds after ``last_second`` (at most an hour's worth)."""
        last = self.last_complete_second(now_ms)
        first = last - metrics.MAX_WINDOW_S + 1
        if isinstance(last_second, int) and not isinstance(last_second, bool):
            first = max(first, last_second + 1)
        return self._buckets.read(first, last)

    def rule_counts(self) -> dict[str, int]:
        """Return total alerts per rule, sorted by rule name."""
        return metrics.rule_counts_from(str_hash(self._r.hgetall(self._keys.totals)), self._keys.totals)

    def cities(self, limit: int | None = None) -> list[CityAgg]:
        """Return per-city aggregates, busiest first."""
        return metrics.read_cities(self._r, self._keys, limit)

    def alert_rows(self, limit: int = 200, status: str | None = None) -> list[AlertRow]:
        """Return alerts with their workflow state, newest first (unknown status gives [])."""
        return alert_rows.read_alert_rows(self._r, self._keys, limit, status)

    def alert_rows_anchored(self, limit: int = 200) -> tuple[list[AlertRow], str]:
        """Return the newest alert rows and the alert-stream cursor they are complete up to."""
        rows, anchor = alert_rows.read_alert_rows_anchored(self._r, self._keys, limit)
        return rows, anchor or feeds.EMPTY_CURSOR

    def banner(self, limit: int = 5) -> Banner:
        """Return the count and newest unacknowledged high-severity alerts."""
        return alert_rows.read_banner(self._r, self._keys, limit)

    def banner_ids(self, limit: int = 5) -> tuple[int, tuple[str, ...]]:
        """Return what the banner depends on (count, newest ids): equal pairs give equal banners."""
        return alert_rows.read_banner_ids(self._r, self._keys, limit)

    def banner_for(self, ids: tuple[int, tuple[str, ...]], limit: int = 5) -> Banner:
        """Return the banner for a banner_ids() answer."""
        return alert_rows.banner_from_ids(self._r, self._keys, ids[0], ids[1], limit)

    def health(self, now_ms: int) -> Health:
        """Return bridges, lag, DLQ and freshness (two round trips)."""
        return health.read_health(self._r, self._keys, now_ms)

    def quality(self) -> Quality:
        """Return ground-truth precision per rule and recall per scenario."""
        return health.read_quality(self._r, self._keys)

    def stats(self, now_ms: int) -> dict[str, Any]:
        """Return the JSON-ready body of `GET /api/stats`."""
        return metrics.read_stats(self._r, self._keys, now_ms)
