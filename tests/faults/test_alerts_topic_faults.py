"""Alerts on Kafka under faults: after SIGKILLs and a rebalance, every alert in Redis is on the topic.

A reference bridge runs the same alert-storm stream undisturbed. The faulted run's topic must hold
the reference's alert ids exactly (no alert lost, none invented), which are also exactly the ids
in the faulted run's Redis; copies of one alert_id are allowed (a batch published, then killed
before its commit, is decided again) and counted.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from common.keys import RedisKeys
from infra.kafka_topics import ensure_topics
from tests.conftest import unique
from tests.faults.alerts_topic import TopicAlerts, read_alerts, redis_alert_ids
from tests.faults.flow import finish_and_compare, progress, start_producing, wait_caught_up
from tests.faults.harness import BridgeFactory, wait_until
from tests.faults.kafka_io import end_offsets, produce
from tests.faults.private import PrivateKafka
from tests.test_bridge_pipeline import expected_alerts

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

SEED, COUNT = 23, 8_000
# The bench's alert storm: about a third of the events alert, so nearly every batch publishes.
STORM = {"card_testing": 0.15, "high_amount": 0.45, "unknown_location": 0.4}


@functools.lru_cache(maxsize=1)
def _storm() -> tuple[Any, ...]:
    import producer

    return tuple(producer.generate(seed=SEED, count=COUNT, fraud_ratio=0.5, scenarios=STORM))


def _topics(bootstrap: str) -> tuple[str, str, str]:
    """A fresh transactions topic and one alerts topic for the reference, one for the faulted run."""
    topic, ref_alerts, run_alerts = unique("t-alfault"), unique("t-alerts-ref"), unique("t-alerts-run")
    ensure_topics(bootstrap, {topic: 3, ref_alerts: 3, run_alerts: 3})
    return topic, ref_alerts, run_alerts


def _assert_topics_exact(
    bootstrap: str,
    client: redis.Redis,
    ref: tuple[str, str],
    run: tuple[str, str],
) -> tuple[TopicAlerts, TopicAlerts]:
    (ref_topic, ref_prefix), (run_topic, run_prefix) = ref, run
    want, got = read_alerts(bootstrap, ref_topic), read_alerts(bootstrap, run_topic)
    in_redis = redis_alert_ids(client, run_prefix)
    assert len(want.ids) > 500, "the storm should raise many alerts"
    assert want.ids == redis_alert_ids(client, ref_prefix), "the reference's topic differs from its Redis"
    assert want.duplicates == 0, "an undisturbed bridge published an alert twice"
    lost, invented = in_redis - got.ids, got.ids - want.ids
    assert not lost, f"{len(lost)} alerts in Redis never reached the topic, e.g. {sorted(lost)[:5]}"
    assert not invented, f"{len(invented)} alerts on the topic the reference never raised"
    assert got.ids == in_redis
    for alert_id, alert in got.first.items():  # rules never changed here: copies are identical
        assert alert == want.first[alert_id], f"alert {alert_id} differs from the reference's"
    return want, got


def test_sigkilled_bridge_loses_no_alert_on_the_topic(
    kafka_bootstrap: str,
    redis_url: str,
    redis_client: redis.Redis,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
) -> None:
    events, kills = _storm(), 3
    topic, ref_alerts, run_alerts = _topics(kafka_bootstrap)
    rng = random.Random("alerts-crash")
    ref_prefix, run_prefix = prefix_factory(redis_url, "ref"), prefix_factory(redis_url, "alcrash")
    common = {"bootstrap": kafka_bootstrap, "topic": topic, "redis_url": redis_url}
    ref = bridge_factory(
        "ref", prefix=ref_prefix, group=unique("g-ref"), KAFKA_ALERTS_TOPIC=ref_alerts, **common
    ).start()
    run = bridge_factory(
        "crash", prefix=run_prefix, group=unique("g-crash"), KAFKA_ALERTS_TOPIC=run_alerts, **common
    ).start()
    ref.wait_assigned()
    run.wait_assigned()
    # Paced: many small batches, so the kills land among publishes and commits, not after the end.
    sending = start_producing(kafka_bootstrap, topic, events, rate=COUNT / 15)
    done = progress(redis_client, run_prefix)
    killed_at = []
    for target in sorted(int(rng.uniform(0.1, 0.9) * COUNT) for _ in range(kills)):
        wait_until(lambda t=target: done() >= t, 180, f"crash run to apply {target} events", describe=run.log)  # type: ignore[misc]
        time.sleep(rng.uniform(0.0, 0.3))
        killed_at.append(done())
        run.kill()
        run.start()
    sending.result()
    finish_and_compare(
        redis_client, kafka_bootstrap, topic, COUNT, (ref, ref_prefix), ([run], run_prefix), timeout_s=240
    )
    assert run.starts == kills + 1
    _, got = _assert_topics_exact(
        kafka_bootstrap, redis_client, (ref_alerts, ref_prefix), (run_alerts, run_prefix)
    )
    logger.warning(
        "faults: alerts after %d SIGKILLs at applied=%s: %d alerts, %d duplicate records on the topic",
        kills,
        killed_at,
        len(got.ids),
        got.duplicates,
    )


def test_rebalance_after_a_killed_member_loses_no_alert_on_the_topic(
    kafka_bootstrap: str,
    redis_url: str,
    redis_client: redis.Redis,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
) -> None:
    events = _storm()
    topic, ref_alerts, run_alerts = _topics(kafka_bootstrap)
    ref_prefix, run_prefix = prefix_factory(redis_url, "ref"), prefix_factory(redis_url, "alrebal")
    common = {"bootstrap": kafka_bootstrap, "topic": topic, "redis_url": redis_url}
    ref = bridge_factory(
        "ref", prefix=ref_prefix, group=unique("g-ref"), KAFKA_ALERTS_TOPIC=ref_alerts, **common
    ).start()
    group = unique("g-alrebal")
    a, b = (
        bridge_factory(n, prefix=run_prefix, group=group, KAFKA_ALERTS_TOPIC=run_alerts, **common).start()
        for n in ("a", "b")
    )
    for proc in (ref, a, b):
        proc.wait_assigned()
    sending = start_producing(kafka_bootstrap, topic, events, rate=COUNT / 20)
    done = progress(redis_client, run_prefix)
    wait_until(lambda: done() >= COUNT // 3, 180, "the group to apply a third", describe=a.log)
    a.kill()  # no LeaveGroup: b takes a's partitions after the session timeout, from Redis's offsets
    sending.result()
    finish_and_compare(
        redis_client, kafka_bootstrap, topic, COUNT, (ref, ref_prefix), ([b], run_prefix), timeout_s=240
    )
    _, got = _assert_topics_exact(
        kafka_bootstrap, redis_client, (ref_alerts, ref_prefix), (run_alerts, run_prefix)
    )
    logger.warning(
        "faults: alerts after a member was killed and b took over: %d alerts, %d duplicate records",
        len(got.ids),
        got.duplicates,
    )


def test_frozen_broker_mid_publish_commits_no_unpublished_alert(
    private_kafka: PrivateKafka,
    redis_url: str,
    redis_client: redis.Redis,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
) -> None:
    """The broker freezes (SIGSTOP) while the bridge works through a backlog from its fetch buffer:
    each batch's alert flush hangs, times out and is retried, never committed; the bridge is then
    SIGKILLed with the broker still frozen. Had any batch reached Redis before its alerts reached
    Kafka, its alerts would be missing from the topic for good (Redis has its offsets: no replay)."""
    events = _storm()
    topic, alerts = unique("t-alfrozen"), unique("t-alerts-frozen")
    private_kafka.create_topics({topic: 3, alerts: 3})
    prefix = prefix_factory(redis_url, "alfrozen")
    bridge = bridge_factory(
        "bridge",
        bootstrap=private_kafka.bootstrap,
        topic=topic,
        redis_url=redis_url,
        prefix=prefix,
        group=unique("g-alfrozen"),
        KAFKA_ALERTS_TOPIC=alerts,
        BRIDGE_BATCH_MAX="200",  # many batches, most of them with alerts
    )
    produce(private_kafka.bootstrap, topic, events)
    bridge.start().wait_assigned()
    done = progress(redis_client, prefix)
    wait_until(lambda: done() >= COUNT // 4, 120, "a quarter applied", describe=bridge.log)
    pid = private_kafka.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        frozen_at = done()
        mark = bridge.log_path.stat().st_size
        wait_until(
            lambda: "AlertsUnpublished" in bridge.log_path.read_text(errors="replace")[mark:],
            60,
            "an alert flush to time out while the broker is frozen",
            describe=bridge.log,
        )
        stalled_at = done()
        bridge.kill()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert stalled_at < COUNT, "the bridge finished while the broker was frozen: nothing was tested"
    bridge.start()
    ends = end_offsets(private_kafka.bootstrap, topic)
    wait_caught_up(redis_client, RedisKeys(prefix).offsets(topic), ends, 240, [bridge])
    assert bridge.terminate() == 0, f"bridge did not exit 0 on SIGTERM\n{bridge.log()}"
    want = set(expected_alerts([(e.value, e.key, e.headers) for e in events]))
    got, in_redis = read_alerts(private_kafka.bootstrap, alerts), redis_alert_ids(redis_client, prefix)
    assert in_redis == want
    lost = in_redis - got.ids
    assert not lost, f"{len(lost)} alerts committed to Redis never reached the topic, e.g. {sorted(lost)[:5]}"
    assert got.ids == want
    logger.warning(
        "faults: broker frozen at applied=%d, bridge killed at %d: %d alerts, %d duplicate records",
        frozen_at,
        stalled_at,
        len(got.ids),
        got.duplicates,
    )
