"""Contract check: what the bridge's real write plan stores is what the dashboard store reads."""

from __future__ import annotations

import json

import pytest

from bridge.batch_types import Batch, DeadLetter, RecordMeta, Scored
from bridge.plan import build_plan
from common.schema import decode_event
from dashapp.store import AlertWorkflow, DashboardReader
from tests.test_store_fixtures import BASE_MS, make_alert

pytestmark = pytest.mark.integration

RECORD_S = BASE_MS // 1000 + 50  # record time of the batch (its per-second bucket)


def _event(n: int, city: str, amount: float):
    body = {
        "txn_id": f"txn-{n}",
        "ts": "2026-09-21T12:00:00.000Z",
        "card_id": f"card-{n}",
        "account_id": f"acct-{n}",
        "amount": amount,
        "currency": "EUR",
        "merchant_id": "m-1",
        "merchant_category": "electronics",
        "city": city,
        "country": "FR",
        "lat": 48.85,
        "lon": 2.35,
        "channel": "online",
    }
    return decode_event(json.dumps(body).encode())


def _write_batch(client, keys) -> list[str]:
    """Apply one bridge batch: two normal transactions, one high alert (labelled fraud), one DLQ record."""
    alert = make_alert(3, severity="high", rules=("high_amount", "velocity"))
    scored = [
        Scored(
            RecordMeta(0, 10, RECORD_S * 1000 + 5, "normal", None), _event(1, "Paris", 10.5), 0.1, "low", None
        ),
        Scored(
            RecordMeta(1, 11, RECORD_S * 1000 + 9, "normal", None), _event(2, "Lyon", 20.25), 0.2, "low", None
        ),
        Scored(
            RecordMeta(2, 12, RECORD_S * 1000 + 700, "card_testing", "ct-1", last=True),
            _event(3, "Paris", 9000.0),
            0.9,
            "high",
            alert,
        ),
    ]
    dead = [
        DeadLetter(RecordMeta(0, 13, RECORD_S * 1000 + 800), "schema", "schema: bad amount", '{"amount": -1}')
    ]
    batch = Batch(scored=scored, dead=dead, states={}, next_offsets={0: 14, 1: 12, 2: 13})
    pipe = client.pipeline(transaction=True)
    for command in build_plan(keys, "t", batch, now_ms=RECORD_S * 1000 + 900, card_ttl_s=60):
        pipe.execute_command(*command)
    pipe.execute()
    return [alert.alert_id]


def test_reader_understands_the_bridge_write_plan(redis_client, keys):
    (alert_id,) = _write_batch(redis_client, keys)
    reader = DashboardReader(redis_client, keys, settle_s=2)
    now_ms = (RECORD_S + 2) * 1000 + 100

    txns, _ = reader.txns_since(None, 10)
    assert [(t.txn_id, t.alert, t.severity) for t in txns] == [
        ("txn-1", False, "low"),
        ("txn-2", False, "low"),
        ("txn-3", True, "high"),
    ]
    assert txns[2].amount == 9000.0 and txns[2].score == 0.9 and txns[2].rt == RECORD_S * 1000 + 700
    (bucket,) = reader.throughput(1, now_ms)
    assert (bucket.second, bucket.txns, bucket.alerts, bucket.amount) == (RECORD_S, 3, 1, 9030.75)
    assert reader.kpis(now_ms).totals.dlq == 1 and reader.kpis(now_ms).last_write_ms == RECORD_S * 1000 + 900
    assert reader.rule_counts() == {"high_amount": 1, "velocity": 1}
    paris = next(c for c in reader.cities() if c.city == "Paris")
    assert (paris.txns, paris.alerts, paris.country, paris.lat) == (2, 1, "FR", 48.85)

    (row,) = reader.alert_rows()
    assert (row.alert_id, row.status, row.version, row.updated_by) == (alert_id, "new", 1, "bridge")
    assert reader.banner().count == 1
    health = reader.health(now_ms)
    assert health.dlq_total == 1 and health.dlq_reasons == {"schema": 1}
    assert health.dlq_samples == ('p0@13: schema: bad amount | {"amount": -1}',)
    quality = reader.quality()
    assert {r.rule: r.precision for r in quality.rules} == {"high_amount": 1.0, "velocity": 1.0}
    scenarios = {s.scenario: s for s in quality.scenarios}
    assert (scenarios["card_testing"].recall, scenarios["normal"].events) == (1.0, 2)

    AlertWorkflow(redis_client, keys).act(alert_id, "acknowledge", "alice", row.version)
    assert reader.banner().count == 0
    _write_batch(redis_client, keys)  # a re-delivered copy must not reset the analyst's work
    assert reader.alert_rows()[0].status == "acknowledged"
    assert reader.banner().count == 0 and reader.banner().newest == ()
    assert redis_client.zcard(keys.banner) == 0, "the bridge put an acknowledged alert back on the banner"
