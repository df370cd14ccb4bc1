"""Writers of bridge-format Redis data for the dashapp.store tests (helpers only, no tests)."""

from __future__ import annotations

import json

import redis

from common.alerts import Alert, Reason, alert_id_for, encode_alert, index_keys
from common.keys import RedisKeys

BASE_MS = 1_790_000_000_000  # a fixed event time: tests never depend on the wall clock


def make_alert(
    n: int,
    *,
    severity: str = "high",
    event_ms: int | None = None,
    rules: tuple[str, ...] = ("high_amount",),
    city: str = "Paris",
) -> Alert:
    """Build a valid alert for transaction number ``n``."""
    txn_id = f"txn-{n}"
    return Alert(
        alert_id=alert_id_for(txn_id),
        txn_id=txn_id,
        ts="2026-09-21T12:00:00.000Z",
        event_ms=BASE_MS + n * 1000 if event_ms is None else event_ms,
        card_id=f"card-{n % 7}",
        account_id=f"acct-{n % 5}",
        amount=100.0 + n,
        currency="EUR",
        merchant_id=f"m-{n}",
        merchant_category="electronics",
        city=city,
        country="FR",
        lat=48.85,
        lon=2.35,
        channel="online",
        score=0.9 if severity == "high" else 0.6,
        severity=severity,  # type: ignore[arg-type]
        reasons=tuple(Reason(rule=r, observed=9000.0, limit=5000.0, text=f"{r} fired") for r in rules),
        rules_version=1,
    )


def put_alert(client: redis.Redis, keys: RedisKeys, alert: Alert) -> str:
    """Write an alert the way the bridge does (stream, record hash, index, banner); return its id."""
    payload = encode_alert(alert)
    client.xadd(keys.alerts, {"d": payload})
    client.hset(
        keys.alert(alert.alert_id),
        mapping={
            "d": payload,
            "status": "new",
            "version": 1,
            "assignee": "",
            "updated_at": BASE_MS,
            "updated_by": "bridge",
            "note": "",
        },
    )
    client.zadd(keys.alert_index, {alert.alert_id: alert.event_ms})
    for key in (keys.alerts_by_status("new"), *index_keys(keys, alert)):
        client.zadd(key, {alert.alert_id: alert.event_ms})
    if alert.severity == "high":
        client.zadd(keys.banner, {alert.alert_id: alert.event_ms})
    return alert.alert_id


def txn_payload(n: int, *, alert: bool = False, rt: int = BASE_MS) -> bytes:
    """The `d` field of one `txns` stream entry (schema v1 names + detection outcome)."""
    body = {
        "txn_id": f"txn-{n}",
        "ts": "2026-09-21T12:00:00.000Z",
        "card_id": f"card-{n % 7}",
        "account_id": f"acct-{n % 5}",
        "amount": 10.0 + n,
        "currency": "EUR",
        "merchant_id": f"m-{n}",
        "merchant_category": "grocery",
        "city": "Lyon",
        "country": "FR",
        "lat": 45.76,
        "lon": 4.83,
        "channel": "pos",
        "alert": alert,
        "score": 0.7 if alert else 0.0,
        "severity": "medium" if alert else None,
        "rt": rt,
    }
    return json.dumps(body).encode()


def put_txns(client: redis.Redis, keys: RedisKeys, numbers: range) -> list[str]:
    """XADD transactions ``numbers``; return their entry ids."""
    return [(client.xadd(keys.txns, {"d": txn_payload(n)})).decode() for n in numbers]  # type: ignore[union-attr]


def put_second(
    client: redis.Redis,
    keys: RedisKeys,
    second: int,
    txns: int,
    alerts: int,
    amount: float,
    per_rule: dict[str, int] | None = None,
) -> None:
    """Write one per-second bucket."""
    fields: dict[str, int | float] = {"txns": txns, "alerts": alerts, "amount": amount}
    fields.update({f"alerts:{rule}": count for rule, count in (per_rule or {}).items()})
    client.hset(keys.second(second), mapping=fields)  # type: ignore[arg-type]
