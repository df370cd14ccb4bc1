"""`python -m outbox relay|rebuild`: settings, clients and signals for the relay and the rebuild."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

import redis
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from common.keys import RedisKeys
from common.settings import ConfigError, from_env
from outbox.rebuild import NotEmpty, rebuild
from outbox.relay import Relay
from outbox.settings import OutboxSettings
from outbox.topic_read import TopicMissing, read_topic

logger = logging.getLogger("outbox")


def make_producer(settings: OutboxSettings) -> KafkaProducer:
    """acks=all and idempotent retries: an acknowledged event is on every in-sync replica."""
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="outbox-relay",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        bootstrap_timeout_ms=5_000,
    )


def _connect(settings: OutboxSettings, stop: threading.Event, backoff_max_s: float) -> KafkaProducer | None:
    """A producer, retried with capped backoff while Kafka is down (the outbox keeps growing)."""
    delay = 0.5
    while not stop.is_set():
        try:
            return make_producer(settings)
        except KafkaError as exc:
            logger.warning("relay: Kafka unreachable error=%r retry_in_s=%.1f", exc, delay)
            stop.wait(delay)
            delay = min(backoff_max_s, delay * 2)
    return None


def labels_topic_missing(settings: OutboxSettings) -> bool:
    """True only when the broker answers that the labels topic does not exist.

    Sending to a missing topic would fail every round and hold back alert-events too; an
    unreachable broker is left to the relay's own retries.
    """
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id="outbox-relay",
            bootstrap_timeout_ms=5_000,
        )
    except KafkaError:
        return False
    try:
        return not consumer.partitions_for_topic(settings.kafka_labels_topic)
    except KafkaError:
        return False
    finally:
        consumer.close()


def relay_main(settings: OutboxSettings, stop: threading.Event) -> int:
    if settings.labels and labels_topic_missing(settings):
        logger.error(
            "relay: labels topic %r does not exist: create it (`make services`) or set OUTBOX_LABELS=0",
            settings.kafka_labels_topic,
        )
        return 2
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5.0, socket_connect_timeout=5.0)
    producer = _connect(settings, stop, settings.backoff_max_s)
    if producer is None:
        return 0
    relay = Relay(
        client, RedisKeys(settings.redis_key_prefix), producer, settings.kafka_alert_events_topic,
        batch=settings.batch, labels_topic=settings.kafka_labels_topic if settings.labels else None,
    )  # fmt: skip
    logger.info(
        "relay: outbox -> topic=%s labels=%s prefix=%s",
        settings.kafka_alert_events_topic,
        settings.kafka_labels_topic if settings.labels else "off",
        settings.redis_key_prefix,
    )
    try:
        total = relay.run(
            stop,
            poll_s=settings.poll_s,
            backoff_max_s=settings.backoff_max_s,
            backlog_warn=settings.backlog_warn,
        )
    finally:
        producer.flush(timeout=10)
        producer.close(timeout=10)
        client.close()
    logger.info("relay: stopped published=%d", total)
    return 0


def rebuild_main(settings: OutboxSettings, force: bool) -> int:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=30.0, socket_connect_timeout=5.0)
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="outbox-rebuild",
        enable_auto_commit=False,
        bootstrap_timeout_ms=5_000,
    )
    try:
        alerts = read_topic(consumer, settings.kafka_alerts_topic)
        events = read_topic(consumer, settings.kafka_alert_events_topic)
        counts = rebuild(client, RedisKeys(settings.redis_key_prefix), alerts, events, force=force)
    except (NotEmpty, TopicMissing) as exc:
        logger.error("rebuild: %s", exc)
        return 2
    finally:
        consumer.close(autocommit=False)
        client.close()
    failed = counts["events_failed"] + counts["events_invalid"] + counts["alerts_invalid"]
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Run the relay until SIGTERM/SIGINT (a second one exits hard), or one rebuild."""
    parser = argparse.ArgumentParser(prog="python -m outbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("relay", help="publish the outbox to the alert-events topic until stopped")
    rb = sub.add_parser(
        "rebuild",
        help="replay the alerts and alert-events topics from their beginning into an empty Redis namespace",
    )
    rb.add_argument("--force", action="store_true", help="write into a namespace that already has keys")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        settings = from_env(OutboxSettings)
    except ConfigError as exc:
        logger.error("outbox: cannot start: %s", exc)
        return 2
    if args.command == "rebuild":
        return rebuild_main(settings, args.force)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise SystemExit(1)
        logger.info("relay: stopping signal=%s", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return relay_main(settings, stop)
