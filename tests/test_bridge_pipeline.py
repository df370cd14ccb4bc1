"""Bridge end to end, in-process: Kafka -> bridge -> Redis contents exact, DLQ intact, live rules."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
import redis
from kafka import KafkaConsumer, TopicPartition

from bridge.config import BridgeSettings, load_settings
from bridge.detection import Detector, make_alert
from bridge.kafka_io import make_consumer, make_producer
from bridge.service import Bridge
from common.alerts import decode_alert
from common.keys import RECENT_TXNS_MAX, RedisKeys
from common.money import to_usd
from common.rules import apply_changes, default_rules
from common.rules_doc import RulesDoc, decode_rules_doc, encode_rules_doc
from common.schema import decode_event
from tests.conftest import unique
from tests.streams import generated, produce, snapshot

pytestmark = pytest.mark.integration

BAD = [  # (value, key, headers) that must reach the DLQ untouched
    (None, b"k-null", [("trace", b"1")]),
    (b"\xff\xfe not json", b"k-bytes", []),
    (b'{"txn_id": 1}', None, [("scenario", b"normal")]),
    (b'{"txn_id":"x","amount":"' + "é".encode() * 40_000 + b'"}', b"k-huge", []),
    (b'{"s":"\xc3\x28"}', b"k-utf8", []),
]


@pytest.fixture
def settings(
    kafka_bootstrap: str, redis_url: str, topic: str, dlq_topic: str, redis_prefix: str
) -> BridgeSettings:
    return load_settings(
        env={},
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic=topic,
        kafka_dlq_topic=dlq_topic,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        group_id=unique("g-bridge"),
        poll_timeout_ms=50,
        batch_max=700,
    )


@pytest.fixture
def make_bridge(settings: BridgeSettings) -> Iterator[Callable[[], Bridge]]:
    made: list[tuple[Any, Any, redis.Redis]] = []

    def build() -> Bridge:
        consumer, producer = make_consumer(settings), make_producer(settings)
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
        made.append((consumer, producer, client))
        return Bridge(settings, consumer, producer, client)

    yield build
    for consumer, producer, client in made:
        consumer.close(autocommit=False)
        producer.close(timeout=5)
        client.close()


def expected_alerts(records: list[tuple[Any, Any, Any]]) -> dict[str, Any]:
    """Run the detector over the events in production order (per card that is the topic order)."""
    detector, states = Detector(default_rules()), dict[str, Any]()
    alerts = {}
    for value, _, _ in records:
        ev = decode_event(value)
        decision, states[ev.card_id] = detector.evaluate(ev, states.get(ev.card_id))
        if decision.is_alert:
            alert = make_alert(ev, decision, 1)
            alerts[alert.alert_id] = alert
    return alerts


def dlq_records(bootstrap: str, dlq_topic: str, n: int) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tp = TopicPartition(dlq_topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got: list[Any] = []
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            for recs in consumer.poll(timeout_ms=500).values():
                got.extend(recs)
        return got
    finally:
        consumer.close()


def test_pipeline_writes_exact_redis_contents_and_dead_letters(
    settings: BridgeSettings,
    make_bridge: Callable[[], Bridge],
    redis_client: redis.Redis,
    keys: RedisKeys,
    kafka_bootstrap: str,
    topic: str,
    dlq_topic: str,
) -> None:
    good = generated(3_000, seed=11)
    produce(kafka_bootstrap, topic, good)
    produce(kafka_bootstrap, topic, BAD, partition=1)
    bridge = make_bridge()
    assert bridge.run(max_events=len(good) + len(BAD)) == len(good) + len(BAD)

    snap = snapshot(redis_client, keys, topic)
    want = expected_alerts(good)
    assert snap["alert_ids"] == sorted(want)
    totals = snap["totals"]
    assert int(totals["txns"]) == len(good) and int(totals["dlq"]) == len(BAD)
    assert int(totals["alerts"]) == len(want)
    by_rule = Counter(r.rule for a in want.values() for r in a.reasons)
    assert {k[7:]: int(v) for k, v in totals.items() if k.startswith("alerts:")} == dict(by_rule)
    rates = default_rules().currency  # money totals are US dollars at the rules' rates
    events = [decode_event(v) for v, _, _ in good]
    amount = sum(round(to_usd(e.amount, e.currency, rates) * 100) for e in events) / 100
    assert round(float(totals["amount"]), 2) == round(amount, 2)
    for field in ("txns", "alerts", "dlq"):
        assert sum(int(h.get(field, 0)) for h in snap["seconds"].values()) == int(totals[field]), field
    assert sum(map(int, snap["city_txns"].values())) == len(good)
    assert sum(map(int, snap["dlq_reasons"].values())) == len(BAD)
    scenarios = Counter(dict(h)["scenario"].decode() for _, _, h in good)
    assert {k[7:]: int(v) for k, v in snap["eval_counts"].items() if k.startswith("events:")} == scenarios

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
    consumer.close()
    assert snap["offsets"] == {str(tp.partition): str(n) for tp, n in ends.items()}
    cards = {decode_event(v).card_id for v, _, _ in good}
    assert len(snap["cards"]) == len(cards) and 0 < redis_client.ttl(keys.card_state(min(cards))) <= 7 * 86400

    some_id, some = next(iter(want.items()))
    record = redis_client.hgetall(keys.alert(some_id))
    assert decode_alert(record[b"d"]) == some
    assert (record[b"status"], record[b"version"], record[b"assignee"], record[b"updated_by"]) == (
        b"new",
        b"1",
        b"",
        b"bridge",
    )
    assert RECENT_TXNS_MAX <= redis_client.xlen(keys.txns) <= len(good)  # MAXLEN ~ trims approximately
    assert redis_client.xlen(keys.alerts) == len(want)
    rules = decode_rules_doc(redis_client.get(keys.rules))  # type: ignore[arg-type]
    assert (rules.version, rules.updated_by, rules.rules) == (1, "system", default_rules())
    samples = [msgspec.json.decode(x) for x in redis_client.lrange(keys.dlq_samples, 0, -1)]
    assert sorted(s["offset"] for s in samples) == sorted({s["offset"] for s in samples})
    assert len(samples) == len(BAD) and all(len(s["preview"]) <= 200 for s in samples)

    dead = dlq_records(kafka_bootstrap, dlq_topic, len(BAD))
    assert [(r.value, r.key) for r in dead] == [(v, k) for v, k, _ in BAD]
    for rec, (_, _, headers) in zip(dead, BAD, strict=True):
        h = dict(rec.headers)
        assert rec.headers[: len(headers)] == headers  # originals first, untouched
        assert h["dlq_source_topic"] == topic.encode() and h["dlq_source_partition"] == b"1"
        assert h["dlq_reason"]
    assert [int(dict(r.headers)["dlq_source_offset"]) for r in dead] == list(
        range(ends[TopicPartition(topic, 1)] - len(BAD), ends[TopicPartition(topic, 1)])
    )


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_live_rule_change_applies_without_restart_and_bad_doc_is_ignored(
    make_bridge: Callable[[], Bridge],
    redis_client: redis.Redis,
    keys: RedisKeys,
    kafka_bootstrap: str,
    topic: str,
) -> None:
    records = generated(900, seed=5)
    bridge = make_bridge()
    runner = threading.Thread(target=bridge.run, daemon=True)
    runner.start()
    try:
        produce(kafka_bootstrap, topic, records[:300])
        wait_for("batch 1", lambda: bridge.processed == 300)
        strict = apply_changes(default_rules(), {"high_amount": {"threshold": 1.0, "weight": 0.95}})
        doc = RulesDoc(version=2, rules=strict, updated_by="analyst", updated_at="2026-01-01T00:00:00Z")
        redis_client.set(keys.rules, encode_rules_doc(doc))
        wait_for("rules v2", lambda: bridge.rules.version == 2, 10)
        produce(kafka_bootstrap, topic, records[300:600])
        wait_for("batch 2", lambda: bridge.processed == 600)
        redis_client.set(keys.rules, b'{"version": 3, "rules": {"high_amount": {"threshold": -5}}}')
        time.sleep(1.5)  # several refreshes: the invalid document must not replace v2
        produce(kafka_bootstrap, topic, records[600:])
        wait_for("batch 3", lambda: bridge.processed == 900)
    finally:
        bridge.stop()
        runner.join(30)
    assert not runner.is_alive()
    assert bridge.rules.version == 2
    ids: list[bytes] = redis_client.zrange(keys.alert_index, 0, -1)  # type: ignore[assignment]
    blobs: list[bytes] = [redis_client.hget(keys.alert(x.decode()), "d") for x in ids]  # type: ignore[misc]
    alerts = {a.txn_id: a for a in map(decode_alert, blobs)}
    later = [decode_event(v).txn_id for v, _, _ in records[300:]]
    assert all(t in alerts for t in later), "an event after the change escaped the new threshold"
    assert {alerts[t].rules_version for t in later} == {2}
    assert all(any(r.rule == "high_amount" for r in alerts[t].reasons) for t in later)
    early = [decode_event(v).txn_id for v, _, _ in records[:300]]
    assert {alerts[t].rules_version for t in early if t in alerts} <= {1}
    assert sum(t in alerts for t in early) < 100
