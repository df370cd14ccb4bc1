"""Rule quality query time with 1,000,000 alerts kept (90 % resolved): `python -m bench.sec_rule_quality`."""

from __future__ import annotations

import argparse
import json
import logging
import random
import secrets
import time
from typing import Any

import redis

from bench.stats import summarize
from common.alerts import Alert, Reason, alert_id_for
from common.keys import RedisKeys
from dashapp.store.alert_rows import row_from_alert
from dashapp.store.rule_quality import RuleQualityReader, resolution_writes

logger = logging.getLogger(__name__)

RULES = ("high_amount", "velocity", "impossible_travel", "amount_anomaly", "card_testing", "unknown_location")
STEP_MS = 500  # 2 alerts a second: 1M alerts span 5.8 days, inside the 7-day window
BATCH = 5_000
REPS = 30


def _alert(i: int, t0: int, rng: random.Random) -> Alert:
    rules = rng.sample(RULES, rng.choice((1, 1, 2)))
    return Alert(
        alert_id=alert_id_for(f"rq-{i}"), txn_id=f"rq-{i}", ts="2026-09-21T12:00:00.000Z",
        event_ms=t0 + i * STEP_MS, card_id="c", account_id="a", amount=1.0, currency="EUR",
        merchant_id="m", merchant_category="electronics", city="Paris", country="FR", channel="online",
        score=0.9, severity="high", reasons=tuple(Reason(r, 1.0, 1.0, r) for r in rules), rules_version=1,
    )  # fmt: skip


def fill(client: redis.Redis, keys: RedisKeys, alerts: int, now_ms: int) -> None:
    """The rule indexes of `alerts` alerts, the older 90 % resolved an hour after they were raised."""
    rng = random.Random(7)
    t0 = now_ms - alerts * STEP_MS
    pipe = client.pipeline(transaction=False)
    for i in range(alerts):
        alert = _alert(i, t0, rng)
        for reason in alert.reasons:
            pipe.zadd(keys.alerts_by_rule(reason.rule), {alert.alert_id: alert.event_ms})
        if i < alerts * 0.9:
            old = row_from_alert(alert, status="assigned")
            status = rng.choice(("resolved_fraud", "resolved_false_positive"))
            new = row_from_alert(alert, status=status, updated_at=alert.event_ms + 3_600_000)
            for command in resolution_writes(keys, old, new):
                pipe.execute_command(*command)
        if i % BATCH == BATCH - 1:
            pipe.execute()
    pipe.execute()


def measure(client: redis.Redis, keys: RedisKeys, now_ms: int) -> dict[str, Any]:
    reader = RuleQualityReader(client, keys)
    out: dict[str, Any] = {}
    for label, rules in (
        ("6 rules", list(RULES)),
        ("106 rules", [*RULES, *(f"custom_{n}" for n in range(100))]),
    ):
        times = []
        for _ in range(REPS):
            start = time.perf_counter()
            reader.quality(rules, now_ms)
            times.append((time.perf_counter() - start) * 1000)
        out[label + ", ms"] = {k: v for k, v in summarize(times).items() if k != "values"}
    start = time.perf_counter()
    for _ in range(REPS):
        client.ping()
    out["one round trip (PING), ms"] = (time.perf_counter() - start) * 1000 / REPS
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis_url)
    keys = RedisKeys(prefix=f"bench-rq-{secrets.token_hex(4)}:")
    now_ms = int(time.time() * 1000)
    try:
        start = time.perf_counter()
        fill(client, keys, args.alerts, now_ms)
        filled_s = time.perf_counter() - start
        result = {"alerts": args.alerts, "fill_s": round(filled_s, 1), **measure(client, keys, now_ms)}
        print(json.dumps(result, indent=2))
    finally:
        for key in client.scan_iter(match=f"{keys.prefix}*", count=1000):
            client.unlink(key)


if __name__ == "__main__":
    main()
