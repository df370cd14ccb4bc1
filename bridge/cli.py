"""The bridge command line: run one bridge instance of the consumer group until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import redis
from kafka.errors import KafkaError

from bridge.config import BridgeSettings, load_settings
from bridge.kafka_io import make_consumer, make_producer
from bridge.service import Bridge

logger = logging.getLogger("bridge")
T = TypeVar("T")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bridge", description=__doc__)
    parser.add_argument("--max-events", type=int, default=None, help="exit 0 after N applied records")
    parser.add_argument("--metrics-port", type=int, default=None, help="Prometheus port (0 = off)")
    return parser.parse_args(argv)


class _Signals:
    """SIGTERM/SIGINT: the first stops gracefully (also while connecting), the second exits hard."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        # `stop` may already be set by a signal that arrived while the process was still importing.
        self.stop = stop if stop is not None else threading.Event()
        self.bridge: Bridge | None = None
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.stop.is_set():
            logger.warning("bridge: second signal, exiting hard signal=%s", signum)
            os._exit(1)
        logger.info("bridge: stopping after the current batch signal=%s", signum)
        self.stop.set()
        if self.bridge is not None:
            self.bridge.stop()


def _connect(what: str, factory: Callable[[], T], stop: threading.Event) -> T | None:
    """Build a client, retrying with capped backoff while the service is not up; None if stopped."""
    delay = 0.1
    while not stop.is_set():
        try:
            return factory()
        except (KafkaError, redis.RedisError, OSError) as exc:
            logger.warning("bridge: %s unavailable retry_in=%.1fs error=%s", what, delay, exc)
            stop.wait(delay)
            delay = min(5.0, delay * 2)
    return None


def main(
    argv: list[str] | None = None, early_stop: threading.Event | None = None, *, publish_alerts: bool = True
) -> int:
    """Entry point: settings from the environment, clients built here, run, close.

    `publish_alerts=False` is no option of the service: only bench/bridge_baseline.py uses it.
    """
    args = _parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    settings: BridgeSettings = load_settings(metrics_port=args.metrics_port)
    logger.info(
        "bridge: starting instance=%s topic=%s group=%s prefix=%s",
        settings.instance_id,
        settings.kafka_topic,
        settings.group_id,
        settings.redis_key_prefix,
    )
    signals = _Signals(early_stop)
    if signals.stop.is_set():
        logger.info("bridge: stopped before start-up finished")
        return 0
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` dumps every thread's stack to stderr
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    consumer = _connect("kafka consumer", lambda: make_consumer(settings), signals.stop)
    producer = _connect("kafka producer", lambda: make_producer(settings), signals.stop)
    try:
        if consumer is not None and producer is not None and not signals.stop.is_set():
            factory = partial(make_consumer, settings)
            bridge = signals.bridge = Bridge(
                settings, consumer, producer, client, consumer_factory=factory, publish_alerts=publish_alerts
            )
            if signals.stop.is_set():  # a signal raced with construction
                bridge.stop()
            bridge.run(max_events=args.max_events)
    finally:
        if signals.bridge is not None:
            consumer = signals.bridge.consumer  # it may have replaced a stalled one
        if consumer is not None:
            consumer.close(autocommit=False, timeout_ms=3_000)
        if producer is not None:
            producer.close(timeout=2)
        client.close()
    return 0
