"""`python -m bridge`: run one bridge instance of the consumer group until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
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


def _install_signals(bridge: Bridge) -> None:
    def handler(signum: int, _frame: Any) -> None:
        if bridge.stopping:
            logger.warning("bridge: second signal, exiting hard signal=%s", signum)
            os._exit(1)
        logger.info("bridge: stopping after the current batch signal=%s", signum)
        bridge.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _connect(what: str, factory: Callable[[], T], deadline_s: float = 600.0) -> T:
    """Build a client, retrying with capped backoff while the service is not up yet."""
    delay, give_up = 0.1, time.monotonic() + deadline_s
    while True:
        try:
            return factory()
        except (KafkaError, redis.RedisError, OSError) as exc:
            if time.monotonic() > give_up:
                raise
            logger.warning("bridge: %s unavailable retry_in=%.1fs error=%s", what, delay, exc)
            time.sleep(delay)
            delay = min(5.0, delay * 2)


def main(argv: list[str] | None = None) -> int:
    """Entry point: settings from the environment, clients built here, run, close."""
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
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
    consumer = _connect("kafka consumer", lambda: make_consumer(settings))
    producer = _connect("kafka producer", lambda: make_producer(settings))
    bridge = Bridge(settings, consumer, producer, client)
    _install_signals(bridge)
    try:
        bridge.run(max_events=args.max_events)
    finally:
        consumer.close(autocommit=False, timeout_ms=3_000)
        producer.close(timeout=3)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
