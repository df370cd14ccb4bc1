"""`python -m notifier`: settings, clients, signals; SIGTERM finishes attempts in flight, commits, exits 0."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
from typing import Any

import httpx
import redis
from kafka import KafkaConsumer

from common.keys import RedisKeys
from common.settings import ConfigError, from_env
from common.webhook_log import DeliveryLog
from common.webhook_replay import ReplayClaims
from common.webhooks import EndpointError, EndpointStore
from notifier.config import NotifierSettings
from notifier.endpoints_file import load_endpoints
from notifier.replay import Replays
from notifier.sender import Dispatcher, Policy
from notifier.service import Endpoints, Notifier

logger = logging.getLogger("notifier")


def make_consumer(settings: NotifierSettings) -> KafkaConsumer:
    """The group member: manual commits only (an offset is committed once its deliveries are done)."""
    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.group_id,
        client_id="notifier",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        max_poll_interval_ms=60_000,
        bootstrap_timeout_ms=5_000,
    )


def build(
    settings: NotifierSettings, client: redis.Redis, consumer: KafkaConsumer, stop: threading.Event
) -> Notifier:
    """Wire a Notifier from settings and connections (tests call this with their own)."""
    keys = RedisKeys(settings.redis_key_prefix)
    store = EndpointStore(client, keys)
    file_endpoints = load_endpoints(settings.endpoints_file)
    store.publish_file_endpoints(file_endpoints)
    endpoints = Endpoints(store, file_endpoints)
    log = DeliveryLog(client, keys)
    # No redirects (a 3xx is a failure to fix, not to follow) and no proxy from the environment.
    http = httpx.Client(timeout=settings.timeout_s, follow_redirects=False, trust_env=False)
    policy = Policy(
        settings.max_attempts, settings.backoff_base_s, settings.backoff_max_s, settings.endpoint_concurrency
    )
    dispatcher = Dispatcher(http, log, endpoints.get, policy, stop)
    # one consumer name per host: after a restart it takes back the replays it had claimed
    claims = ReplayClaims(client, keys, socket.gethostname())
    claims.ensure_group()
    logger.info(
        "notifier: topic=%s group=%s file_endpoints=%d",
        settings.kafka_alerts_topic,
        settings.group_id,
        len(file_endpoints),
    )
    return Notifier(
        consumer,
        [
            settings.kafka_alerts_topic,
            *([settings.kafka_alert_events_topic] if settings.kafka_alert_events_topic else []),
        ],
        endpoints,
        dispatcher,
        log,
        max_pending=settings.max_pending,
        refresh_s=settings.refresh_s,
        commit_interval_s=settings.commit_interval_s,
        heartbeat_file=settings.heartbeat_file,
        replays=Replays(claims, dispatcher),
    )


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT (a second one exits hard)."""
    argparse.ArgumentParser(prog="python -m notifier", description=__doc__).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs full URLs, which may hold secrets
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise SystemExit(1)
        logger.info("notifier: stopping signal=%s", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        settings = from_env(NotifierSettings)
        if settings.nice:
            os.nice(settings.nice)  # threads started from here on inherit it
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5.0, socket_connect_timeout=5.0)
        consumer = make_consumer(settings)
        notifier = build(settings, client, consumer, stop)
    except (ConfigError, EndpointError, OSError) as exc:
        logger.error("notifier: cannot start: %s", exc)
        return 2
    try:
        notifier.run(stop)
    finally:
        consumer.close(autocommit=False)
        client.close()
    logger.info("notifier: stopped")
    return 0
