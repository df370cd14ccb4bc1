"""Kafka outage: a private broker stops mid-stream under the producer CLI and the bridge, then returns."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis

from common.keys import RedisKeys
from tests.conftest import unique
from tests.faults.flow import wait_caught_up
from tests.faults.harness import BridgeFactory, hget_int, wait_until
from tests.faults.kafka_io import end_offsets, read_topic
from tests.faults.private import PrivateKafka

pytestmark = pytest.mark.integration
SOAK = [pytest.mark.soak, pytest.mark.timeout(1500)]  # long variants: make soak only
logger = logging.getLogger(__name__)

SEED = 41
START = "2026-03-01T12:00:00Z"
SIZES = [
    pytest.param(15_000, 1_000, 5.0, id="15k-at-1000-5s"),
    pytest.param(60_000, 2_000, 10.0, id="60k-at-2000-10s", marks=SOAK),
]


def txn_id(value: bytes) -> str:
    import msgspec

    return str(msgspec.json.decode(value)["txn_id"])


@pytest.mark.parametrize(("count", "rate", "outage_s"), SIZES)
def test_kafka_outage_producer_and_bridge_survive_without_loss_or_duplicates(
    count: int,
    rate: int,
    outage_s: float,
    private_kafka: PrivateKafka,
    redis_url: str,
    redis_client: redis.Redis,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
) -> None:
    import producer

    topic = unique("t-kafka-outage")
    private_kafka.create_topics({topic: 3, f"{topic}.dlq": 1})
    prefix = prefix_factory(redis_url, "kafka-outage")
    keys = RedisKeys(prefix)
    bridge = (
        bridge_factory(
            "bridge",
            bootstrap=private_kafka.bootstrap,
            topic=topic,
            redis_url=redis_url,
            prefix=prefix,
            group=unique("g-kafka-outage"),
        )
        .start()
        .wait_assigned()
    )
    sender = bridge_factory.producer(
        "producer",
        [
            "--rate",
            str(rate),
            "--count",
            str(count),
            "--seed",
            str(SEED),
            "--start",
            START,
            "--bootstrap-servers",
            private_kafka.bootstrap,
            "--topic",
            topic,
        ],
    ).start()
    pids = (bridge.pid, sender.pid)
    wait_until(
        lambda: hget_int(redis_client, keys.totals, "txns") >= count // 4,
        120,
        "the bridge to apply a quarter of the events",
        describe=lambda: bridge.log() + sender.log(),
    )
    private_kafka.stop()
    stopped_at = time.monotonic()
    try:
        while time.monotonic() < stopped_at + outage_s:
            for proc in (bridge, sender):
                assert proc.alive(), f"{proc.name} died while Kafka was down\n{proc.log()}"
            time.sleep(0.25)
    finally:
        restarting = time.monotonic()
        private_kafka.start()
        restart_s = time.monotonic() - restarting
    assert (bridge.pid, sender.pid) == pids and bridge.alive(), f"a process was replaced\n{bridge.log()}"
    code = sender.wait(timeout_s=count / rate + 180)
    ends = end_offsets(private_kafka.bootstrap, topic)
    wait_caught_up(redis_client, keys.offsets(topic), ends, 240, [bridge])
    assert bridge.alive() and bridge.pid == pids[0], f"bridge restarted or died\n{bridge.log()}"
    assert bridge.terminate() == 0, f"bridge did not exit 0 on SIGTERM\n{bridge.log()}"

    in_topic = Counter(txn_id(r.value) for r in read_topic(private_kafka.bootstrap, topic))
    expected = {txn_id(e.value) for e in seeded_events_at(producer, count)}
    duplicated = {t: n for t, n in in_topic.items() if n > 1}
    applied = hget_int(redis_client, keys.totals, "txns")
    report = (
        f"producer exit={code} records in topic={sum(in_topic.values())} "
        f"distinct txn_ids={len(in_topic)} duplicated ids={len(duplicated)} "
        f"missing from topic={len(expected - set(in_topic))} "
        f"unexpected={len(set(in_topic) - expected)} redis totals.txns={applied} "
        f"outage={outage_s:.0f}s + broker restart {restart_s:.0f}s"
    )
    logger.warning("faults: kafka outage %s", report)
    assert code == 0, f"producer exited {code} after the outage: {report}\n{sender.log(8)}"
    assert set(in_topic) == expected, f"producer lost or invented events: {report}"
    assert not duplicated, f"duplicate records in the topic despite idempotence: {report}"
    assert applied == len(in_topic), f"Redis totals differ from the distinct events in the topic: {report}"


def seeded_events_at(producer_module: Any, count: int) -> list[Any]:
    """The events the CLI sends for (SEED, START): the same generator, same arguments, same world."""
    world = producer_module.World.build(0, producer_module.world.DEFAULT_CARDS)  # the CLI's default world
    return list(producer_module.generate(seed=SEED, count=count, start=START, world=world))
