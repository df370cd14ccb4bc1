"""Shadow rules in a live bridge (real Kafka + Redis): shadow alerts under shadow keys only; every live
key, counter, index and the alerts topic exactly as in a run without the shadow set, on both engines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bridge.config import load_settings
from bridge.kafka_io import make_consumer, make_producer
from bridge.service import Bridge
from common.alerts import alert_id_for
from common.keys import RedisKeys
from common.rulelang import parse_document
from common.schema import NORMAL_SCENARIO
from common.shadow_doc import ShadowDoc, decode_pair, encode_shadow_doc
from infra.kafka_topics import ensure_topics
from tests.conftest import unique
from tests.faults.kafka_io import read_topic
from tests.native_gate import needs_native
from tests.streams import Record, generated, produce, snapshot
from tests.test_backtest import plant, planted_draft

pytestmark = pytest.mark.integration
ENGINES = [pytest.param("python", id="python"), pytest.param("native", id="native", marks=needs_native())]
SHADOW_ID = 7
RT = re.compile(rb',"rt":\d+}$')


@pytest.fixture
def other_prefix(redis_url: str) -> Iterator[str]:
    """A second namespace for the reference run, deleted afterwards."""
    prefix = f"{unique('test-ref')}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        for key in list(client.scan_iter(match=f"{prefix}*", count=1000)):
            client.delete(key)
    finally:
        client.close()


def run_bridge(
    env: dict[str, Any], records: int, prefix: str, alerts_topic: str, shadow: ShadowDoc | None
) -> str:
    """Run one bridge over the topic; return which engine decided (the pipeline-health wording)."""
    settings = load_settings(
        env={},
        **env,
        kafka_alerts_topic=alerts_topic,
        redis_key_prefix=prefix,
        group_id=unique("g-shadow"),
        poll_timeout_ms=50,
        batch_max=400,
    )
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    if shadow is not None:  # None: leave whatever is stored
        client.set(RedisKeys(prefix).shadow_rules, encode_shadow_doc(shadow))
    consumer, producer = make_consumer(settings), make_producer(settings)
    try:
        bridge = Bridge(settings, consumer, producer, client)
        assert bridge.run(max_events=records) == records
        return bridge.engines.status()
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=5)
        client.close()


def live_view(client: redis.Redis, prefix: str, topic: str) -> dict[str, Any]:
    """What analysts and consumers see: counters, cards, banner, alerts, search indexes, streams' data."""
    keys = RedisKeys(prefix)
    snap = snapshot(client, keys, topic)
    for counters in (snap["totals"], *snap["seconds"].values()):  # summed per batch: float order
        if "amount" in counters:
            counters["amount"] = round(float(counters["amount"]), 2)
    snap["alerts"] = {
        aid: client.hget(keys.alert(aid), "d") for aid in snap["alert_ids"]
    }  # the alert documents
    snap["indexes"] = {
        k.decode()[len(prefix) :]: client.zrange(k, 0, -1, withscores=True)
        for k in client.scan_iter(match=f"{prefix}alerts:by-*", count=1000)
    }
    snap["quality"] = sorted(k.decode()[len(prefix) :] for k in client.scan_iter(match=f"{prefix}quality:*"))
    # stream order follows how partitions interleave in batches, and `rt` is the write's wall time
    alerts: list[Any] = client.xrange(keys.alerts)  # type: ignore[assignment]
    snap["alert_stream"] = sorted(f[b"d"] for _, f in alerts)
    txns: list[Any] = client.xrange(keys.txns)  # type: ignore[assignment]
    snap["txn_stream"] = sorted(RT.sub(b"}", f[b"d"]) for _, f in txns)
    return snap


def topic_values(bootstrap: str, topic: str) -> list[tuple[bytes, bytes]]:
    return sorted((r.key, r.value) for r in read_topic(bootstrap, topic, idle_ms=5_000))


@pytest.mark.parametrize("engine", ENGINES)
def test_shadow_alerts_stay_under_shadow_keys_and_the_live_views_are_byte_identical(
    engine: str,
    kafka_bootstrap: str,
    redis_url: str,
    topic: str,
    dlq_topic: str,
    redis_prefix: str,
    other_prefix: str,
    redis_client: redis.Redis,
) -> None:
    records: list[Record]
    records, planted = plant(generated(1_800, seed=5), every=30)  # all rows fit `txns`
    produce(kafka_bootstrap, topic, records)
    ref_alerts, shadow_alerts = unique("t-alerts-ref"), unique("t-alerts-shadow")
    ensure_topics(kafka_bootstrap, {ref_alerts: 3, shadow_alerts: 3})
    env = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "kafka_topic": topic,
        "kafka_dlq_topic": dlq_topic,
        "redis_url": redis_url,
        "engine": engine,
    }
    shadow = ShadowDoc(
        id=SHADOW_ID,
        rules=parse_document(planted_draft()),
        base_version=1,
        by="tester",
        at="2026-12-06T00:00:00Z",
    )
    assert run_bridge(env, len(records), other_prefix, ref_alerts, None) == engine
    # native: the Rust gate takes the shadow set too (quiet only if neither set can fire)
    assert run_bridge(env, len(records), redis_prefix, shadow_alerts, shadow) == engine

    # the live side: byte for byte what the run without a shadow set wrote, and published
    reference = live_view(redis_client, other_prefix, topic)
    assert live_view(redis_client, redis_prefix, topic) == reference
    assert topic_values(kafka_bootstrap, shadow_alerts) == topic_values(kafka_bootstrap, ref_alerts)
    assert "alerts:by-rule:planted_merchant" not in reference["indexes"]

    # the shadow side: the planted rule fired on exactly the planted events, stored under shadow keys
    keys = RedisKeys(redis_prefix)
    stored: dict[bytes, bytes] = redis_client.hgetall(keys.shadow_pairs)  # type: ignore[assignment]
    pairs = {k.decode(): decode_pair(v) for k, v in stored.items()}
    assert all(p is not None and p.shadow == SHADOW_ID for p in pairs.values())
    fired = {
        aid
        for aid, p in pairs.items()
        if p is not None and p.alert is not None and "planted_merchant" in {r.rule for r in p.alert.reasons}
    }
    assert fired == {alert_id_for(t) for t in planted}
    assert len(planted) == 60
    live_ids = set(reference["alert_ids"])
    assert fired - live_ids, "some planted events raise a shadow alert only"
    for aid, p in pairs.items():  # the live half of each pair is the live alert itself
        assert p is not None
        assert (p.live is not None) == (aid in live_ids)
    assert redis_client.zcard(keys.shadow_alerts) == len(pairs)
    assert int(redis_client.hget(keys.shadow_stats, f"events:{SHADOW_ID}") or 0) == len(records)
    # the exact precision counters: per set, its alerts on fraud- and on normal-labelled events
    stats = {k.decode(): int(v) for k, v in redis_client.hgetall(keys.shadow_stats).items()}  # type: ignore[union-attr]
    for side in ("live", "shadow"):
        labels = [
            p.scenario
            for p in pairs.values()
            if p is not None and p.scenario and (p.live if side == "live" else p.alert) is not None
        ]
        tp = sum(label != NORMAL_SCENARIO for label in labels)
        assert labels and tp > 0, side  # the generated stream carries ground truth, fraud among it
        assert stats.get(f"truth:{SHADOW_ID}:*:{side}:tp", 0) == tp, side
        assert stats.get(f"truth:{SHADOW_ID}:*:{side}:fp", 0) == len(labels) - tp, side


@pytest.mark.parametrize("engine", ENGINES)
def test_a_second_bridge_replaying_the_topic_from_the_start_counts_no_shadow_fire_twice(
    engine: str,
    kafka_bootstrap: str,
    redis_url: str,
    topic: str,
    dlq_topic: str,
    redis_prefix: str,
    redis_client: redis.Redis,
) -> None:
    records, planted = plant(generated(1_200, seed=9), every=30)
    produce(kafka_bootstrap, topic, records)
    env = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "kafka_topic": topic,
        "kafka_dlq_topic": dlq_topic,
        "redis_url": redis_url,
        "engine": engine,
    }
    shadow = ShadowDoc(
        id=SHADOW_ID,
        rules=parse_document(planted_draft()),
        base_version=1,
        by="tester",
        at="2026-12-06T00:00:00Z",
    )
    alerts = unique("t-alerts-replay")
    ensure_topics(kafka_bootstrap, {alerts: 3})
    # the first bridge stops part-way; the second is a new consumer group (Kafka would hand it every
    # record from offset 0) and resumes where Redis's offsets say, in the same MULTI as the shadow writes
    keys = RedisKeys(redis_prefix)
    run_bridge(env, 500, redis_prefix, alerts, shadow)
    first = int(redis_client.hget(keys.shadow_stats, f"events:{SHADOW_ID}") or 0)
    assert 500 <= first < len(records)
    run_bridge(env, len(records) - first, redis_prefix, alerts, None)  # the shadow key stays as stored
    assert int(redis_client.hget(keys.shadow_stats, f"events:{SHADOW_ID}") or 0) == len(records)
    fired = int(redis_client.hget(keys.shadow_stats, f"fires:{SHADOW_ID}:planted_merchant:shadow") or 0)
    assert fired == len(planted) == 40
