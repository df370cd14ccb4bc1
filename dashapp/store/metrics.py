"""Counter reads: KPIs, per-second throughput, per-rule and per-city aggregates, API stats."""

from __future__ import annotations

from typing import Any

import redis

from common.keys import HEARTBEAT_TTL_S, RedisKeys
from dashapp.store._codec import load_json, opt_float, str_hash, text, to_float, to_int
from dashapp.store.buckets import buckets_from, queue_hmgets
from dashapp.store.models import CityAgg, Kpis, Totals

MAX_WINDOW_S = 3600
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


def read_kpis(client: redis.Redis, keys: RedisKeys, now_ms: int, window_s: int, settle_s: int) -> Kpis:
    """Read every KPI in one pipelined round trip."""
    last = last_complete_second(now_ms, settle_s)
    first = last - window_s + 1
    pipe = client.pipeline(transaction=False)
    queue_hmgets(pipe, keys, first, last)
    pipe.hmget(keys.latency, ("p50", "p99"))
    pipe.hvals(keys.lag)
    pipe.zcount(keys.bridges, int(now_ms) / 1000 - HEARTBEAT_TTL_S, "+inf")
    pipe.get(keys.last_write)
    pipe.hmget(keys.totals, TOTAL_FIELDS)
    replies = pipe.execute(raise_on_error=False)
    buckets = buckets_from(replies[:window_s], first, keys)
    latency, lag, alive, last_write, totals = replies[window_s:]
    txns = sum(b.txns for b in buckets)
    alerts = sum(b.alerts for b in buckets)
    amount = sum(b.amount for b in buckets)
    p50, p99 = latency if isinstance(latency, list) else (None, None)
    return Kpis(
        window_s=window_s,
        txns_per_s=txns / window_s,
        alerts_per_min=alerts * 60 / window_s,
        amount_per_min=amount * 60 / window_s,
        fraud_rate=alerts / txns if txns else 0.0,
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
