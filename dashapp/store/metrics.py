"""Counter reads: KPIs, per-second throughput, per-rule and per-city aggregates, API stats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import redis

from common.keys import HEARTBEAT_TTL_S, RedisKeys
from dashapp.store._codec import load_json, opt_float, str_hash, text, to_float, to_int
from dashapp.store.buckets import buckets_from, queue_hmgets
from dashapp.store.models import CityAgg, Kpis, SecondBucket, Totals

MAX_WINDOW_S = 3600
# Alerts are rare: alerts/min, amount/min and the fraud rate are counted over the last whole minute.
# Extrapolated from the 10 s KPI window one alert read 6/min and the next 12 (0 -> 6 -> 12 -> 24).
MINUTE_S = 60
TOTAL_FIELDS = ("txns", "alerts", "amount", "dlq")


def last_complete_second(now_ms: int, settle_s: int) -> int:
    """The newest record-time second whose bucket no late write is expected to change."""
    return int(now_ms) // 1000 - settle_s


def totals_from(values: list[Any], key: str) -> Totals:
    """Build Totals from an HMGET of TOTAL_FIELDS."""
    txns, alerts, amount, dlq = values
    return Totals(
        txns=to_int(txns, key=key),
        alerts=to_int(alerts, key=key),
        amount=to_float(amount, key=key),
        dlq=to_int(dlq, key=key),
    )


class Rates(NamedTuple):
    """The KPI rates of a run of per-second buckets."""

    txns_per_s: float
    alerts_per_min: float
    amount_per_min: float
    fraud_rate: float


def rates(buckets: Sequence[SecondBucket], last: int, window_s: int) -> Rates:
    """Transactions/s over the last `window_s` seconds up to `last`; the rest over the last minute.

    The minute's counts are what happened in it, not an extrapolation: one alert is 1/min.
    """
    recent = [b for b in buckets if last - window_s < b.second <= last]
    minute = [b for b in buckets if last - MINUTE_S < b.second <= last]
    txns = sum(b.txns for b in minute)
    alerts = sum(b.alerts for b in minute)
    return Rates(
        txns_per_s=sum(b.txns for b in recent) / window_s,
        alerts_per_min=float(alerts),
        amount_per_min=sum(b.amount for b in minute),
        fraud_rate=alerts / txns if txns else 0.0,
    )


def read_kpis(client: redis.Redis, keys: RedisKeys, now_ms: int, window_s: int, settle_s: int) -> Kpis:
    """Read every KPI in one pipelined round trip (the buckets of the last minute or window)."""
    last = last_complete_second(now_ms, settle_s)
    span = max(window_s, MINUTE_S)
    first = last - span + 1
    pipe = client.pipeline(transaction=False)
    queue_hmgets(pipe, keys, first, last)
    pipe.hmget(keys.latency, ("p50", "p99"))
    pipe.hvals(keys.lag)
    pipe.zcount(keys.bridges, int(now_ms) / 1000 - HEARTBEAT_TTL_S, "+inf")
    pipe.get(keys.last_write)
    pipe.hmget(keys.totals, TOTAL_FIELDS)
    replies = pipe.execute(raise_on_error=False)
    buckets = buckets_from(replies[:span], first, keys)
    latency, lag, alive, last_write, totals = replies[span:]
    r = rates(buckets, last, window_s)
    p50, p99 = latency if isinstance(latency, list) else (None, None)
    return Kpis(
        window_s=window_s,
        txns_per_s=r.txns_per_s,
        alerts_per_min=r.alerts_per_min,
        amount_per_min=r.amount_per_min,
        fraud_rate=r.fraud_rate,
        latency_p50_ms=opt_float(p50, key=keys.latency),
        latency_p99_ms=opt_float(p99, key=keys.latency),
        total_lag=sum(max(0, to_int(v, key=keys.lag)) for v in (lag if isinstance(lag, list) else [])),
        bridges_alive=to_int(alive if isinstance(alive, int) else None),
        last_write_ms=_opt_int(last_write, keys.last_write),
        totals=totals_from(totals if isinstance(totals, list) else [None] * 4, keys.totals),
    )


def _opt_int(value: object, key: str) -> int | None:
    number = opt_float(value, key=key)
    return None if number is None else int(number)


def rule_counts_from(totals: dict[str, str], key: str) -> dict[str, int]:
    """Per-rule alert counts from the totals hash (fields `alerts:<rule>`), sorted by rule."""
    return {
        name.split(":", 1)[1]: to_int(value, key=key)
        for name, value in sorted(totals.items())
        if name.startswith("alerts:") and len(name) > len("alerts:")
    }


def read_cities(client: redis.Redis, keys: RedisKeys, limit: int | None) -> list[CityAgg]:
    """Per-city counts with coordinates, busiest first."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.city_txns)
    pipe.hgetall(keys.city_alerts)
    pipe.hgetall(keys.city_geo)
    txns, alerts, geo = (str_hash(r) for r in pipe.execute(raise_on_error=False))
    out = []
    for city in set(txns) | set(alerts):
        place = load_json(geo.get(city), key=keys.city_geo)
        place = place if isinstance(place, dict) else {}
        out.append(
            CityAgg(
                city=city,
                country=text(place.get("country")) if place.get("country") else None,
                lat=opt_float(place.get("lat"), key=keys.city_geo),
                lon=opt_float(place.get("lon"), key=keys.city_geo),
                txns=to_int(txns.get(city), key=keys.city_txns),
                alerts=to_int(alerts.get(city), key=keys.city_alerts),
            )
        )
    out.sort(key=lambda c: (-c.txns, -c.alerts, c.city))
    return out if limit is None else out[: max(0, limit)]


def read_stats(client: redis.Redis, keys: RedisKeys, now_ms: int) -> dict[str, Any]:
    """Everything `GET /api/stats` reports, JSON-ready, in one pipelined round trip."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.totals)
    pipe.hgetall(keys.latency)
    pipe.hgetall(keys.lag)
    pipe.hgetall(keys.dlq_reasons)
    pipe.zcount(keys.bridges, int(now_ms) / 1000 - HEARTBEAT_TTL_S, "+inf")
    pipe.get(keys.last_write)
    pipe.get(keys.seq)
    totals, latency, lag, reasons, alive, last_write, seq = pipe.execute(raise_on_error=False)
    totals, latency, lag, reasons = (str_hash(h) for h in (totals, latency, lag, reasons))
    return {
        "totals": {
            "txns": to_int(totals.get("txns"), key=keys.totals),
            "alerts": to_int(totals.get("alerts"), key=keys.totals),
            "amount": to_float(totals.get("amount"), key=keys.totals),
            "dlq": to_int(totals.get("dlq"), key=keys.totals),
        },
        "rules": rule_counts_from(totals, keys.totals),
        "latency_ms": {f: opt_float(latency.get(f), key=keys.latency) for f in ("p50", "p95", "p99", "max")},
        "lag": sort_partitions({p: to_int(v, key=keys.lag) for p, v in lag.items()}),
        "dlq_reasons": {r: to_int(v, key=keys.dlq_reasons) for r, v in sorted(reasons.items())},
        "bridges_alive": to_int(alive if isinstance(alive, int) else None),
        "last_write_ms": _opt_int(last_write, keys.last_write),
        "seq": to_int(seq if not isinstance(seq, Exception) else None, key=keys.seq),
    }


def sort_partitions(lag: dict[str, int]) -> dict[str, int]:
    """Order a partition-keyed dict numerically (non-numeric partitions last)."""
    return dict(
        sorted(lag.items(), key=lambda kv: (not kv[0].isdigit(), int(kv[0]) if kv[0].isdigit() else 0, kv[0]))
    )
