"""Section: alert search, export and retention sweep times with 1,000,000 alerts kept in Redis."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import redis

from bench.sec_memory import prefix_bytes
from bench.stack import Context, machine_note
from bench.stats import percentile, summarize
from bridge.alert_writes import alert_commands
from bridge.retention import DAY_MS, AlertRetention
from bridge.sink import RedisSink
from common.alerts import Alert, Reason, alert_id_for
from common.keys import RedisKeys
from dashapp.store.alert_rows import row_from_alert
from dashapp.store.search import AlertSearch
from dashapp.store.search_query import AlertQuery, my_queue
from dashapp.store.workflow import transition
from dashapp.views.alerts_csv import csv_chunks

logger = logging.getLogger(__name__)

ALERTS, SMOKE_ALERTS = 1_000_000, 5_000
CARDS, MERCHANTS, ANALYSTS = 100_000, 5_000, 20
RULES = ("high_amount", "velocity", "geo_jump", "amount_anomaly", "card_testing", "night_owl")
STEP_MS = 200  # 5 alerts per second: 1M alerts span 2.3 days
T0 = 1_790_000_000_000
BATCH = 1_000  # alerts per MULTI (about 18,000 commands)
QUERY_REPS = 20
EXPORT_ROWS = 20_000


def _alert(i: int, rng: random.Random) -> Alert:
    rules = rng.sample(RULES, rng.choice((1, 1, 2)))
    return Alert(
        alert_id=alert_id_for(f"bench-{i}"), txn_id=f"bench-{i}", ts="2026-09-21T12:00:00.000Z",
        event_ms=T0 + i * STEP_MS, card_id=f"card-{rng.randrange(CARDS)}", account_id=f"acct-{i % 50_000}",
        amount=round(rng.uniform(5, 12_000), 2), currency="EUR", merchant_id=f"m-{rng.randrange(MERCHANTS)}",
        merchant_category="electronics", city="Paris", country="FR", lat=48.85, lon=2.35, channel="online",
        score=0.9, severity=rng.choice(("high", "medium")),
        reasons=tuple(Reason(r, 9000.0, 5000.0, f"{r} fired") for r in rules), rules_version=1,
    )  # fmt: skip


def _workflow(keys: RedisKeys, alert: Alert, i: int, total: int, rng: random.Random) -> list[Any]:
    """The older 90% resolved, the rest spread over new / acknowledged / assigned, as a day of work."""
    user = f"analyst-{rng.randrange(ANALYSTS)}"
    row = row_from_alert(alert)
    if i < total * 0.9:
        row, first = transition(keys, row, "assign_to_me", user, note="", now_ms=alert.event_ms)
        action = rng.choice(("resolve_fraud", "resolve_false_positive"))
        return first + transition(keys, row, action, user, note="", now_ms=alert.event_ms)[1]
    step = rng.random()
    if step < 0.4:
        return []
    action = "acknowledge" if step < 0.7 else "assign_to_me"
    return transition(keys, row, action, user, note="", now_ms=alert.event_ms)[1]


def fill(ctx: Context, keys: RedisKeys, total: int) -> float:
    """Write `total` alerts with the bridge's writer and the workflow's writes; return alerts/s."""
    # its own client: a loaded Redis may take a while to drain a 4 MB transaction
    client = redis.Redis.from_url(ctx.redis_url, socket_timeout=300)
    rng, sink = random.Random(1), RedisSink(client, keys, "bench")
    t0 = time.perf_counter()
    for start in range(0, total, BATCH):
        alerts = [_alert(i, rng) for i in range(start, min(total, start + BATCH))]
        plan = alert_commands(keys, alerts, now_ms=T0)
        for i, alert in enumerate(alerts, start):
            plan += _workflow(keys, alert, i, total, rng)
        sink.send_commit(plan, {})
        sink.confirm()
        if start % 100_000 == 0:
            logger.info("bench: search fill %d/%d", start, total)
    client.close()
    return total / (time.perf_counter() - t0)


def _queries(total: int) -> dict[str, AlertQuery]:
    last = T0 + (total - 1) * STEP_MS
    hour = 3_600_000
    return {
        "newest_page": AlertQuery(limit=100),
        "card": AlertQuery(card="card-42"),
        "merchant": AlertQuery(merchant="m-7"),
        "rule": AlertQuery(rule="velocity"),
        "status_new": AlertQuery(status="new"),
        "status_open": AlertQuery(status="open"),
        "my_queue": my_queue("analyst-3"),
        "alert_id": AlertQuery(alert_id=alert_id_for(f"bench-{total // 2}")),
        "rule_and_status": AlertQuery(rule="velocity", status="acknowledged"),
        "rule_status_last_hour": AlertQuery(rule="geo_jump", status="new", since_ms=last - hour),
        "merchant_and_rule": AlertQuery(merchant="m-7", rule="high_amount"),
        "assignee_resolved_page_5": AlertQuery(assignee="analyst-5", status="resolved_fraud", offset=400),
    }


def time_queries(search: AlertSearch, total: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, q in _queries(total).items():
        times, found = [], None
        for _ in range(QUERY_REPS):
            t0 = time.perf_counter()
            found = search.search(q)
            times.append((time.perf_counter() - t0) * 1000)
        assert found is not None
        out[name] = {
            "ms": summarize(times), "p95_ms": percentile(times, 95), "total": found.total,
            "exact": found.exact, "rows": len(found.rows),
        }  # fmt: skip
        logger.info("bench: search %s median=%.1f ms total=%d", name, out[name]["ms"]["median"], found.total)
    return out


def run(ctx: Context) -> dict[str, Any]:
    """Fill a prefix with alerts, time every query kind, the CSV export and a retention pass."""
    total = SMOKE_ALERTS if ctx.smoke else ALERTS
    keys = RedisKeys(f"{ctx.name('search')}:")
    try:
        rate = fill(ctx, keys, total)
        n_keys, n_bytes = prefix_bytes(ctx, keys)
        search = AlertSearch(ctx.redis, keys)
        queries = time_queries(search, total)
        t0 = time.perf_counter()
        rows = 0
        q = AlertQuery(status="resolved_fraud", oldest_first=True)
        for chunk in csv_chunks(r for _, r in zip(range(EXPORT_ROWS), search.iter_rows(q), strict=False)):
            rows += chunk.count("\r\n")
        export_s = time.perf_counter() - t0
        sweeper = AlertRetention(ctx.redis, keys, days=1.0)
        t0 = time.perf_counter()
        passes = [sweeper.sweep(T0 + 2 * DAY_MS) for _ in range(10)]
        sweep_ms = (time.perf_counter() - t0) * 1000 / len(passes)
        return {
            "alerts": total,
            "fill_alerts_per_s": rate,
            "redis_keys": n_keys,
            "redis_mb": n_bytes / 2**20,
            "bytes_per_alert": n_bytes / total,
            "queries": queries,
            "export_rows_per_s": (rows - 1) / export_s,
            "sweep_pass_ms": sweep_ms,
            "sweep_pass_alerts": passes[0].swept,
            "machine": machine_note(),
        }
    finally:
        ctx.drop_prefix(keys)
