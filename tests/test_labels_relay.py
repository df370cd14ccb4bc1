"""Real Kafka + Redis: resolutions made through the store become analyst labels, exactly one per
resolution after de-duplication on label_id, even when the relay is killed after Kafka's
acknowledgement and before its delete (it publishes them again on restart: nothing is lost)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaConsumer, TopicPartition

from common.alert_events import RESOLVED, decode_event
from common.keys import RedisKeys
from common.labels import ANALYST, FRAUD, LEGITIMATE, decode_label
from dashapp.store import AlertWorkflow
from infra.kafka_topics import ensure_topics
from infra.services import REPO_ROOT
from tests.conftest import unique
from tests.faults.harness import wait_until
from tests.faults.private import PrivateRedis
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration


def read_records(bootstrap: str, topic: str) -> list[Any]:
    """Every record of the topic (key, value, headers), partition by partition."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, bootstrap_timeout_ms=5_000
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        ends = consumer.end_offsets(tps)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for fetched in consumer.poll(timeout_ms=500).values():
                out.extend(fetched)
        return out
    finally:
        consumer.close()


def topic_size(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, bootstrap_timeout_ms=5_000)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """Our own redis-server: the test pauses its writes, which the shared one must never see."""
    instance = PrivateRedis.create(tmp_path / "redis")
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


def start_relay(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "outbox", "relay"], env=env, cwd=REPO_ROOT, stdout=out, stderr=out
        )


def test_each_resolution_is_one_label_and_a_relay_killed_before_its_delete_loses_none(
    tmp_path: Path, private_redis: PrivateRedis, kafka_bootstrap: str, labels_topic: str
) -> None:
    client = redis.Redis.from_url(private_redis.url)
    keys = RedisKeys(unique("labels") + ":")
    events_topic = unique("t-alert-events")
    ensure_topics(kafka_bootstrap, {events_topic: 1})
    alerts = [make_alert(n) for n in range(1, 5)]
    ids = [put_alert(client, keys, a) for a in alerts]
    seconds = itertools.count(1_790_000_100)
    wf = AlertWorkflow(client, keys, clock=lambda: float(next(seconds)))
    wf.act(ids[0], "resolve_fraud", "ana", 1, "card blocked")
    wf.act(ids[1], "resolve_false_positive", "bob", 1, "holder confirmed")
    wf.act(ids[2], "resolve_fraud", "ana", 1)
    wf.act(ids[2], "reopen", "bob", 2, "holder says it was them")
    wf.act(ids[2], "resolve_false_positive", "bob", 3)
    wf.act(ids[3], "acknowledge", "ana", 1)  # no verdict: no label
    entries: Any = client.xrange(keys.events_outbox)
    resolutions = [
        (i.decode(), decode_event(f[b"e"])) for i, f in entries if decode_event(f[b"e"]).kind == RESOLVED
    ]
    assert len(entries) == 6 and len(resolutions) == 4

    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_ALERT_EVENTS_TOPIC": events_topic,
        "KAFKA_LABELS_TOPIC": labels_topic,
        "REDIS_URL": private_redis.url,
        "REDIS_KEY_PREFIX": keys.prefix,
    }
    log = tmp_path / "relay.log"
    # 1. Redis takes no writes: the relay publishes every event and label, cannot delete, is killed.
    client.execute_command("CLIENT", "PAUSE", 120_000, "WRITE")
    relay = start_relay(env, log)
    try:
        wait_until(
            lambda: topic_size(kafka_bootstrap, labels_topic) >= 4,
            90,
            "the first relay's labels on Kafka",
            describe=log.read_text,
        )
    finally:
        relay.kill()
        relay.wait()
        client.execute_command("CLIENT", "UNPAUSE")
    assert client.xlen(keys.events_outbox) == 6  # acknowledged by Kafka, never deleted

    # 2. Restarted, the relay publishes them all again and deletes them.
    relay = start_relay(env, log)
    try:
        wait_until(
            lambda: client.xlen(keys.events_outbox) == 0, 90, "the outbox relayed", describe=log.read_text
        )
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=60) == 0
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()
    assert client.hget(keys.events_relay, "labels") == b"4"  # the second relay's count

    records = read_records(kafka_bootstrap, labels_topic)
    labels = [decode_label(r.value) for r in records]
    assert len(labels) >= 8  # each label at least twice: once per relay
    unique_labels = {lb.label_id: lb for lb in labels}
    assert len(unique_labels) == 4
    for record, label in zip(records, labels, strict=True):
        assert record.key == label.card_id.encode()
        assert dict(record.headers) == {"label_id": label.label_id.encode(), "source": b"analyst"}
    got = sorted(
        (lb.ref, lb.txn_id, lb.card_id, lb.label, lb.label_ms, lb.txn_ms) for lb in unique_labels.values()
    )
    by_alert = {a.alert_id: a for a in alerts}
    want = sorted(
        (
            event_id,
            by_alert[event.subject].txn_id,
            by_alert[event.subject].card_id,
            FRAUD if event.after["disposition"] == "fraud" else LEGITIMATE,
            event.at_ms,
            by_alert[event.subject].event_ms,
        )
        for event_id, event in resolutions
    )
    assert got == want
    assert {lb.source for lb in labels} == {ANALYST}
    # the reopened alert: two labels, the later (false positive) supersedes the earlier
    third = sorted(
        (lb for lb in unique_labels.values() if lb.txn_id == alerts[2].txn_id), key=lambda lb: lb.label_ms
    )
    assert [lb.label for lb in third] == [FRAUD, LEGITIMATE]
    client.close()


def test_the_relay_refuses_to_start_without_the_labels_topic(kafka_bootstrap: str, keys: RedisKeys) -> None:
    """Sending labels to a missing topic would hold back every event: the relay says so and exits 2."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_LABELS_TOPIC": unique("t-missing-labels"),
        "REDIS_KEY_PREFIX": keys.prefix,
    }
    done = subprocess.run(
        [sys.executable, "-m", "outbox", "relay"],
        check=False,
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert b"does not exist" in done.stderr and b"OUTBOX_LABELS=0" in done.stderr
