"""Notifier against real Kafka, Redis and local HTTP receivers: signatures, outage, slowness, dead letters."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer

from common.alert_topic import alert_record
from common.keys import RedisKeys
from common.webhook_log import DEAD, DELIVERED, DeliveryLog
from common.webhooks import Endpoint, EndpointStore
from notifier.cli import build, make_consumer
from notifier.config import NotifierSettings
from notifier.payloads import verify
from tests.conftest import unique
from tests.notifier_receiver import Receiver, make_alert, send_alerts, wait_until

pytestmark = pytest.mark.integration
# The target is a 30 s outage; the suite uses 5 s (NOTIFIER_TEST_OUTAGE_S=30 runs the real one).
OUTAGE_S = float(os.environ.get("NOTIFIER_TEST_OUTAGE_S", "5"))


@pytest.fixture
def alerts_topic(kafka_bootstrap: str) -> str:
    from infra.kafka_topics import ensure_topics

    name = unique("t-alerts")
    ensure_topics(kafka_bootstrap, {name: 2})
    return name


@pytest.fixture
def events_topic(kafka_bootstrap: str) -> str:
    from infra.kafka_topics import ensure_topics

    name = unique("t-alert-events")
    ensure_topics(kafka_bootstrap, {name: 1})
    return name


@pytest.fixture
def produce(kafka_bootstrap: str, alerts_topic: str) -> Iterator[Callable[..., list[str]]]:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)

    def send(numbers: range, severity: str = "high", rule: str = "high_amount") -> list[str]:
        ids = []
        for n in numbers:
            alert = make_alert(n, severity, rule)
            key, value, headers = alert_record(alert)
            producer.send(alerts_topic, key=key, value=value, headers=headers)
            ids.append(alert.alert_id)
        producer.flush()
        return ids

    yield send
    producer.close()


@pytest.fixture
def start_notifier(
    kafka_bootstrap: str, redis_url: str, redis_prefix: str, alerts_topic: str, events_topic: str
) -> Iterator[Callable[..., NotifierSettings]]:
    running: list[tuple[threading.Event, threading.Thread, KafkaConsumer, redis.Redis]] = []

    def start(**overrides: object) -> NotifierSettings:
        fields: dict[str, object] = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "redis_url": redis_url,
            "redis_key_prefix": redis_prefix,
            "kafka_alerts_topic": alerts_topic,
            "kafka_alert_events_topic": events_topic,
            "group_id": unique("notifier"),
            "backoff_base_s": 0.2,
            "backoff_max_s": 1.0,
            "commit_interval_s": 0.2,
            "refresh_s": 0.2,
        }
        settings = NotifierSettings(**{**fields, **overrides})  # type: ignore[arg-type]
        stop, client = threading.Event(), redis.Redis.from_url(redis_url)
        consumer = make_consumer(settings)
        notifier = build(settings, client, consumer, stop)
        thread = threading.Thread(target=notifier.run, args=(stop,), daemon=True)
        thread.start()
        running.append((stop, thread, consumer, client))
        return settings

    yield start
    for stop, thread, consumer, client in running:
        stop.set()
        thread.join(30)
        consumer.close(autocommit=False)
        client.close()


def _endpoint(redis_client: redis.Redis, keys: RedisKeys, url: str, **sub: object) -> Endpoint:
    return EndpointStore(redis_client, keys).create({"name": unique("ep"), "url": url, **sub}, "admin")


def test_signed_json_and_slack_text_reach_their_subscribers(
    redis_client: redis.Redis,
    keys: RedisKeys,
    produce: Callable[..., list[str]],
    start_notifier: Callable[..., object],
) -> None:
    signed, chat = Receiver(), Receiver()
    try:
        high_only = _endpoint(redis_client, keys, signed.url)
        slack = _endpoint(redis_client, keys, chat.url, format="slack", min_severity="low")
        start_notifier()
        high = produce(range(5))
        low = produce(range(5, 8), severity="low")
        wait_until(lambda: len(signed.received) >= 5 and len(chat.received) >= 8, 30, "deliveries")
        assert sorted(signed.event_ids()) == sorted(high)  # low-severity alerts are not sent here
        for req in signed.received:
            assert verify(high_only.secret, req.headers["X-Fraud-Signature"], req.body, now=time.time())
            assert json.loads(req.body)["id"] == req.headers["X-Fraud-Event-Id"]
        assert sorted(chat.event_ids()) == sorted(high + low)
        assert all(list(json.loads(r.body)) == ["text"] for r in chat.received)
        log = DeliveryLog(redis_client, keys)
        row = log.get(f"{slack.id}:{low[0]}")
        assert row is not None and row["status"] == DELIVERED and row["attempts"] == 1
        assert high_only.secret not in json.dumps(log.recent(100))  # the log never holds a secret
    finally:
        signed.stop()
        chat.stop()


def test_receiver_down_for_a_while_loses_nothing(
    redis_client: redis.Redis,
    keys: RedisKeys,
    produce: Callable[..., list[str]],
    start_notifier: Callable[..., object],
) -> None:
    receiver = Receiver()
    port = receiver.port
    receiver.stop()  # down: connection refused
    try:
        _endpoint(redis_client, keys, f"http://127.0.0.1:{port}/hook")
        start_notifier(max_attempts=1000)
        sent = produce(range(30))
        log = DeliveryLog(redis_client, keys)
        wait_until(lambda: log.stats().get("failed_attempts", 0) >= 4, 30, "failed attempts while down")
        time.sleep(OUTAGE_S)  # the outage itself (not an assertion)
        receiver = Receiver(port=port)
        wait_until(lambda: set(receiver.event_ids()) >= set(sent), 120, "every alert after the outage")
        assert set(receiver.event_ids()) == set(sent)
        assert log.dead() == [] and log.stats().get("failed_attempts", 0) >= 4
        rows = log.recent(100)
        assert {r["status"] for r in rows} == {DELIVERED} and max(r["attempts"] for r in rows) > 1
    finally:
        receiver.stop()


def test_slow_receiver_holds_back_only_itself_and_ends_in_dead_letters(
    redis_client: redis.Redis,
    keys: RedisKeys,
    produce: Callable[..., list[str]],
    start_notifier: Callable[..., object],
) -> None:
    slow, fast = Receiver(delay_s=2.0), Receiver()
    try:
        slow_ep = _endpoint(redis_client, keys, slow.url)
        _endpoint(redis_client, keys, fast.url)
        # every attempt at the slow one times out (>= 0.5 s each): 12 alerts x 3 attempts on 4 senders
        # take the slow endpoint at least 4.5 s, while the fast one is served independently
        start_notifier(timeout_s=0.5, max_attempts=3)
        sent = produce(range(12))
        log = DeliveryLog(redis_client, keys)
        wait_until(lambda: set(fast.event_ids()) == set(sent), 30, "the fast receiver's deliveries")
        assert log.stats().get("dead", 0) < len(sent)  # the slow endpoint was still trying meanwhile
        wait_until(lambda: log.stats().get("dead", 0) == len(sent), 60, "dead letters of the slow endpoint")
        dead = log.dead(100)
        assert sorted(d["event_id"] for d in dead) == sorted(sent)
        assert all(d["endpoint_id"] == slow_ep.id and d["attempts"] == 3 for d in dead)
        assert all("Timeout" in d["last_error"] for d in dead)
        assert json.loads(dead[0]["body"])["id"] == dead[0]["event_id"]  # kept for a replay by hand
        row = log.get(f"{slow_ep.id}:{sent[0]}")
        assert row is not None and row["status"] == DEAD and row["attempts"] == 3
    finally:
        slow.stop()
        fast.stop()


def test_a_disabled_endpoint_gets_nothing_and_invalid_records_are_counted(
    redis_client: redis.Redis,
    keys: RedisKeys,
    kafka_bootstrap: str,
    alerts_topic: str,
    produce: Callable[..., list[str]],
    start_notifier: Callable[..., object],
) -> None:
    on, off = Receiver(), Receiver()
    try:
        _endpoint(redis_client, keys, on.url)
        disabled = _endpoint(redis_client, keys, off.url)
        EndpointStore(redis_client, keys).set_enabled(disabled.id, False)
        start_notifier()
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        producer.send(alerts_topic, value=b"\xffnot an alert")
        producer.flush()
        producer.close()
        sent = produce(range(3))
        wait_until(lambda: set(on.event_ids()) == set(sent), 30, "deliveries")
        wait_until(lambda: DeliveryLog(redis_client, keys).stats().get("invalid_records") == 1, 30, "count")
        assert off.received == []
    finally:
        on.stop()
        off.stop()


def test_resolutions_reach_their_subscribers_only(
    redis_client: redis.Redis,
    keys: RedisKeys,
    kafka_bootstrap: str,
    events_topic: str,
    start_notifier: Callable[..., object],
) -> None:
    from common.alert_events import ACKNOWLEDGED, RESOLVED, encode_event, make_event, record_key, with_id

    resolutions, alerts_only, chat = Receiver(), Receiver(), Receiver()
    try:
        sub = _endpoint(redis_client, keys, resolutions.url, events=[RESOLVED])
        _endpoint(redis_client, keys, alerts_only.url)
        _endpoint(redis_client, keys, chat.url, events=[RESOLVED], format="slack")
        start_notifier()
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        changes = [
            with_id(make_event(ACKNOWLEDGED, at_ms=1, actor="ann", subject="a00001"), "1-0"),
            with_id(
                make_event(
                    RESOLVED,
                    at_ms=2,
                    actor="ann",
                    subject="a00001",
                    after={"disposition": "fraud"},
                    note="called",
                ),
                "2-0",
            ),
        ]
        for change in changes:
            producer.send(events_topic, key=record_key(change), value=encode_event(change))
        producer.flush()
        producer.close()
        wait_until(lambda: len(resolutions.received) == 1 and len(chat.received) == 1, 30, "the resolution")
        (req,) = resolutions.received
        doc = json.loads(req.body)
        assert req.headers["X-Fraud-Event-Id"] == "2-0" and doc["type"] == RESOLVED
        assert doc["data"]["subject"] == "a00001" and doc["data"]["after"] == {"disposition": "fraud"}
        assert verify(sub.secret, req.headers["X-Fraud-Signature"], req.body, now=time.time())
        text = json.loads(chat.received[0].body)["text"]
        assert "a00001" in text and "fraud" in text and "ann" in text
        # the acknowledgement went nowhere, the resolution only to its subscribers
        assert alerts_only.received == []
    finally:
        resolutions.stop()
        alerts_only.stop()
        chat.stop()


def test_dead_letters_queued_again_are_delivered_once_the_receiver_answers(
    redis_client: redis.Redis,
    keys: RedisKeys,
    produce: Callable[..., list[str]],
    start_notifier: Callable[..., object],
) -> None:
    failing = Receiver(status=500)
    try:
        endpoint = _endpoint(redis_client, keys, failing.url)
        start_notifier(max_attempts=2)
        sent = produce(range(4))
        log = DeliveryLog(redis_client, keys)
        wait_until(lambda: log.stats().get("dead", 0) == len(sent), 30, "dead letters")
        failing.status = 200
        failing.received.clear()
        assert log.queue_replay(endpoint.id) == (len(sent), 0)
        wait_until(lambda: sorted(failing.event_ids()) == sorted(sent), 30, "the replayed deliveries")
        for req in failing.received:  # signed afresh, as any delivery
            assert verify(endpoint.secret, req.headers["X-Fraud-Signature"], req.body, now=time.time())
        wait_until(lambda: redis_client.xlen(keys.webhook_replay) == 0, 30, "the replays acknowledged")
        assert log.dead(10) == []
        row = log.get(f"{endpoint.id}:{sent[0]}")
        assert row is not None and row["status"] == DELIVERED and row["replays"] == 1 and row["attempts"] == 1
    finally:
        failing.stop()


def test_a_notifier_started_before_its_topic_exists_delivers_once_it_does(
    kafka_bootstrap: str,
    redis_client: redis.Redis,
    keys: RedisKeys,
    start_notifier: Callable[..., object],
) -> None:
    """A topic created after the notifier subscribed to it is read once it exists."""
    from infra.kafka_topics import ensure_topics

    receiver = Receiver()
    late = unique("t-alerts-late")
    try:
        _endpoint(redis_client, keys, receiver.url)
        start_notifier(kafka_alerts_topic=late)
        time.sleep(2.0)  # the notifier is up and waiting: no partitions of `late` exist yet
        ensure_topics(kafka_bootstrap, {late: 2})
        sent = send_alerts(kafka_bootstrap, late, 3)
        wait_until(lambda: sorted(receiver.event_ids()) == sorted(sent), 30, "deliveries from the late topic")
    finally:
        receiver.stop()


def test_a_notifier_left_without_partitions_says_so(
    start_notifier: Callable[..., object], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member holding no partition delivers nothing: after UNASSIGNED_WARN_S it warns, once."""
    from notifier import service

    monkeypatch.setattr(service, "UNASSIGNED_WARN_S", 0.5)
    caplog.set_level(logging.WARNING, logger="notifier.service")
    start_notifier(kafka_alerts_topic=unique("t-missing"), kafka_alert_events_topic="")

    def warnings() -> int:
        return sum("no partition assigned" in r.getMessage() for r in caplog.records)

    wait_until(lambda: warnings() > 0, 20, "the warning")
    time.sleep(1.5)  # several more refresh periods (0.2 s) without partitions
    assert warnings() == 1


def test_an_idle_member_joins_again_once_and_the_group_still_delivers(
    kafka_bootstrap: str,
    redis_client: redis.Redis,
    keys: RedisKeys,
    start_notifier: Callable[..., object],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two notifiers on one partition: one holds nothing although the topic has a partition, so it
    leaves and joins the group again, but not again within REJOIN_COOLDOWN_S (no ping-pong)."""
    from infra.kafka_topics import ensure_topics
    from notifier import service

    monkeypatch.setattr(service, "UNASSIGNED_REJOIN_S", 0.5)
    caplog.set_level(logging.INFO, logger="notifier.service")
    topic, group = unique("t-alerts-one"), unique("notifier")
    ensure_topics(kafka_bootstrap, {topic: 1})
    receiver = Receiver()
    try:
        _endpoint(redis_client, keys, receiver.url)
        for _ in range(2):
            start_notifier(kafka_alerts_topic=topic, kafka_alert_events_topic="", group_id=group)

        def rejoins() -> int:
            return sum("joining again" in r.getMessage() for r in caplog.records)

        wait_until(lambda: rejoins() > 0, 60, "the idle member to join again")
        time.sleep(4.0)  # 8 more rejoin periods: each member may rejoin once, then the cooldown holds
        assert 1 <= rejoins() <= 2
        sent = send_alerts(kafka_bootstrap, topic, 3)
        wait_until(lambda: sorted(set(receiver.event_ids())) == sorted(sent), 60, "after rejoining")
    finally:
        receiver.stop()
