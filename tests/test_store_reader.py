"""DashboardReader over bridge-format counters: KPIs, throughput, cities, health, quality, stats."""

from __future__ import annotations

import json

import pytest

from dashapp.store import CityAgg, DashboardReader, SecondBucket
from dashapp.store.buckets import BucketReader

pytestmark = pytest.mark.integration

NOW_S = 1_790_000_100
NOW_MS = NOW_S * 1000 + 400


@pytest.fixture
def reader(redis_client, keys) -> DashboardReader:
    return DashboardReader(redis_client, keys, kpi_window_s=10, settle_s=2)


def _second(client, keys, second: int, txns: int, alerts: int, amount: float, **rules: int) -> None:
    mapping = {
        "txns": txns,
        "alerts": alerts,
        "amount": amount,
        **{f"alerts:{r}": c for r, c in rules.items()},
    }
    client.hset(keys.second(second), mapping=mapping)


def test_empty_redis_reads_as_zeros(reader):
    kpis = reader.kpis(NOW_MS)
    assert (kpis.txns_per_s, kpis.fraud_rate, kpis.total_lag, kpis.bridges_alive) == (0, 0, 0, 0)
    assert kpis.latency_p50_ms is None and kpis.last_write_ms is None
    assert reader.seq() == 0 and reader.rule_counts() == {} and reader.cities() == []
    assert reader.alert_rows() == [] and reader.banner().count == 0
    health = reader.health(NOW_MS)
    assert health.freshness == "dead" and health.bridges == () and health.dlq_total == 0
    assert reader.quality().empty
    assert reader.stats(NOW_MS)["totals"] == {"txns": 0, "alerts": 0, "amount": 0.0, "dlq": 0}


def test_kpis_use_the_last_complete_seconds(reader, redis_client, keys):
    last = NOW_S - 2  # settle_s=2
    for s in range(last - 9, last + 1):
        _second(redis_client, keys, s, txns=100, alerts=2, amount=1000.0)
    _second(redis_client, keys, last + 1, txns=99_999, alerts=9_999, amount=1e9)  # still filling
    # outside the 10 s window (transactions/s) but inside the minute (alerts/min, amount/min, fraud rate)
    _second(redis_client, keys, last - 30, txns=500, alerts=1, amount=500.0)
    _second(redis_client, keys, last - 60, txns=99_999, alerts=9_999, amount=1e9)  # outside both
    redis_client.hset(keys.latency, mapping={"p50": 12.5, "p95": 40, "p99": 80.25, "max": 300, "ts": NOW_MS})
    redis_client.hset(keys.lag, mapping={"0": 5, "1": 7, "2": "garbage"})
    redis_client.zadd(keys.bridges, {"b-alive": NOW_S - 3, "b-dead": NOW_S - 60})
    redis_client.set(keys.last_write, NOW_MS - 1500)
    redis_client.hset(keys.totals, mapping={"txns": 5000, "alerts": 40, "amount": 123.5, "dlq": 3})
    kpis = reader.kpis(NOW_MS)
    assert kpis.txns_per_s == 100.0
    assert kpis.alerts_per_min == 21.0  # counted over the minute, not extrapolated from 10 s
    assert kpis.amount_per_min == 10_500.0
    assert kpis.fraud_rate == 21 / 1500
    assert (kpis.latency_p50_ms, kpis.latency_p99_ms) == (12.5, 80.25)
    assert kpis.total_lag == 12
    assert kpis.bridges_alive == 1
    assert kpis.last_write_ms == NOW_MS - 1500
    assert (kpis.totals.txns, kpis.totals.alerts, kpis.totals.amount, kpis.totals.dlq) == (5000, 40, 123.5, 3)


def test_throughput_fills_missing_seconds_and_stops_at_the_settled_edge(reader, redis_client, keys):
    last = NOW_S - 2
    _second(redis_client, keys, last, 10, 1, 55.5)
    _second(redis_client, keys, last - 2, 4, 0, 8.0)
    _second(redis_client, keys, last + 1, 1000, 0, 0.0)
    buckets = reader.throughput(300, NOW_MS)
    assert len(buckets) == 300
    assert [b.second for b in buckets] == list(range(last - 299, last + 1))
    assert buckets[-3:] == [
        SecondBucket(last - 2, 4, 0, 8.0),
        SecondBucket(last - 1, 0, 0, 0.0),
        SecondBucket(last, 10, 1, 55.5),
    ]
    assert len(reader.throughput(10**6, NOW_MS)) == 3600


def test_throughput_since_returns_only_new_seconds(reader, redis_client, keys):
    first = reader.throughput(60, NOW_MS)
    later_ms = NOW_MS + 3000
    for s in range(NOW_S - 1, NOW_S + 2):
        _second(redis_client, keys, s, 1, 0, 2.0)
    new = reader.throughput_since(first[-1].second, later_ms)
    assert [b.second for b in new] == [NOW_S - 1, NOW_S, NOW_S + 1]
    assert all(b.txns == 1 for b in new)
    assert reader.throughput_since(new[-1].second, later_ms) == []
    assert len(reader.throughput_since(None, later_ms)) == 3600
    assert len(reader.throughput_since(0, later_ms)) == 3600  # a stale cursor is capped at an hour


def test_rule_counts_and_stats(reader, redis_client, keys):
    redis_client.hset(
        keys.totals,
        mapping={
            "txns": 10,
            "alerts": 3,
            "amount": 99.5,
            "dlq": 2,
            "alerts:velocity": 2,
            "alerts:high_amount": 1,
            "alerts:": 9,
        },
    )
    redis_client.hset(keys.dlq_reasons, mapping={"schema": 1, "malformed JSON": 1})
    redis_client.hset(keys.lag, mapping={"10": 1, "2": 4})
    redis_client.incr(keys.seq, 7)
    assert reader.rule_counts() == {"high_amount": 1, "velocity": 2}
    stats = reader.stats(NOW_MS)
    assert stats["totals"] == {"txns": 10, "alerts": 3, "amount": 99.5, "dlq": 2}
    assert stats["rules"] == {"high_amount": 1, "velocity": 2}
    assert list(stats["lag"].items()) == [("2", 4), ("10", 1)]
    assert stats["dlq_reasons"] == {"malformed JSON": 1, "schema": 1}
    assert stats["seq"] == 7 == reader.seq()
    json.dumps(stats)  # JSON-ready


def test_cities_merge_counts_and_geo(reader, redis_client, keys):
    redis_client.hset(keys.city_txns, mapping={"Paris": 10, "Lyon": 30, "UNKNOWN_IP_ADDR": 5})
    redis_client.hset(keys.city_alerts, mapping={"Paris": 4, "Nowhere": 1})
    redis_client.hset(
        keys.city_geo,
        mapping={
            "Paris": json.dumps({"lat": 48.85, "lon": 2.35, "country": "FR"}),
            "Lyon": "{broken",
        },
    )
    cities = reader.cities()
    assert cities == [
        CityAgg("Lyon", None, None, None, 30, 0),
        CityAgg("Paris", "FR", 48.85, 2.35, 10, 4),
        CityAgg("UNKNOWN_IP_ADDR", None, None, None, 5, 0),
        CityAgg("Nowhere", None, None, None, 0, 1),
    ]
    assert [c.city for c in reader.cities(limit=1)] == ["Lyon"]


def test_health_reports_bridges_lag_dlq_and_freshness(reader, redis_client, keys):
    redis_client.zadd(keys.bridges, {"b1": NOW_S - 2, "b2": NOW_S - 100})
    redis_client.hset(
        keys.bridge("b1"),
        mapping={"processed": 1234, "partitions": "[2, 0]", "pid": 42, "host": "h1", "ts": NOW_S - 2},
    )
    redis_client.hset(keys.lag, mapping={"0": 3, "2": 0})
    redis_client.hset(keys.totals, "dlq", 2)
    redis_client.hset(keys.dlq_reasons, mapping={"schema": 2})
    for offset in (7, 8):
        redis_client.lpush(
            keys.dlq_samples,
            json.dumps(
                {
                    "partition": 1,
                    "offset": offset,
                    "reason": "schema: bad amount",
                    "preview": '{"amount": -1}',
                }
            ),
        )
    redis_client.lpush(keys.dlq_samples, "not json")
    redis_client.set(keys.last_write, NOW_MS - 1000)
    health = reader.health(NOW_MS)
    b1, b2 = health.bridges
    assert (b1.instance, b1.alive, b1.processed, b1.partitions, b1.pid, b1.host) == (
        "b1",
        True,
        1234,
        (0, 2),
        42,
        "h1",
    )
    assert b1.age_s == pytest.approx(2.4)
    assert (b2.instance, b2.alive, b2.processed, b2.partitions, b2.pid) == ("b2", False, 0, (), None)
    assert health.bridges_alive == 1
    assert health.lag == {"0": 3, "2": 0} and health.total_lag == 3
    assert health.dlq_total == 2 and health.dlq_reasons == {"schema": 2}
    assert health.dlq_samples == (
        'p1@8: schema: bad amount | {"amount": -1}',
        'p1@7: schema: bad amount | {"amount": -1}',
    )
    assert (health.last_write_age_s, health.freshness) == (pytest.approx(1.0), "fresh")
    assert reader.health(NOW_MS + 10_000).freshness == "stale"
    assert reader.health(NOW_MS + 60_000).freshness == "dead"
    json.dumps(health.to_dict())


def test_quality_precision_and_recall(reader, redis_client, keys):
    redis_client.hset(
        keys.eval_counts,
        mapping={
            "tp:velocity": 3,
            "fp:velocity": 1,
            "fp:high_amount": 2,
            "events:normal": 900,
            "alerted:normal": 2,
            "events:card_testing": 40,
            "alerted:card_testing": 12,
            "finished:card_testing": 4,
            "finished_caught:card_testing": 3,
            "junk": 5,
        },
    )
    redis_client.sadd(keys.eval_instances("card_testing"), "s5", "s6")  # in progress
    redis_client.sadd(keys.eval_caught("card_testing"), "s5")  # alerted, not over yet
    quality = reader.quality()
    rules = {r.rule: r for r in quality.rules}
    assert (rules["velocity"].tp, rules["velocity"].fp, rules["velocity"].precision) == (3, 1, 0.75)
    assert rules["high_amount"].precision == 0.0
    scenarios = {s.scenario: s for s in quality.scenarios}
    ct = scenarios["card_testing"]
    assert (ct.events, ct.alerted_events, ct.caught, ct.missed, ct.in_progress) == (40, 12, 3, 1, 2)
    assert ct.recall == 0.75  # over the finished instances only
    assert scenarios["normal"].recall is None and scenarios["normal"].events == 900
    assert not quality.empty


def test_garbage_counters_are_skipped_and_logged(reader, redis_client, keys, caplog):
    last = NOW_S - 2
    _second(redis_client, keys, last, 10, 1, 5.0)
    redis_client.hset(keys.second(last - 1), mapping={"txns": "lots", "alerts": "nan", "amount": "inf"})
    redis_client.set(keys.second(last - 2), "a string, not a hash")
    redis_client.set(keys.seq, "x")
    redis_client.set(keys.last_write, "yesterday")
    redis_client.set(keys.latency, "wrong type")
    kpis = reader.kpis(NOW_MS)
    assert (kpis.txns_per_s, kpis.alerts_per_min) == (1.0, 1.0)
    assert kpis.latency_p50_ms is None and kpis.last_write_ms is None
    assert reader.seq() == 0
    assert [b.txns for b in reader.throughput(3, NOW_MS)] == [0, 0, 10]
    assert "garbage number skipped" in caplog.text


def test_scripted_and_pipelined_bucket_reads_agree(redis_client, keys, caplog):
    first = NOW_S - 1300  # spans three script chunks
    for s in range(first, NOW_S, 7):
        _second(redis_client, keys, s, txns=s % 50, alerts=s % 3, amount=(s % 11) * 1.25)
    redis_client.set(keys.second(first + 1), "wrong type")
    redis_client.hset(keys.second(first + 2), mapping={"txns": "many", "amount": "1.5"})
    scripted = BucketReader(redis_client, keys)
    pipelined = BucketReader(redis_client, keys)
    pipelined.use_script = False
    got = scripted.read(first, NOW_S - 1)
    assert scripted.use_script  # the script path really ran
    assert got == pipelined.read(first, NOW_S - 1)
    assert len(got) == 1300 and sum(b.txns for b in got) == sum(s % 50 for s in range(first, NOW_S, 7))
    assert got[1] == SecondBucket(first + 1, 0, 0, 0.0) and got[2] == SecondBucket(first + 2, 0, 0, 1.5)
