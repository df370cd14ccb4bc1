"""Session fixtures: the real local Kafka and Redis (reused when `make services` runs them)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from common.keys import RedisKeys

REPO_ROOT = Path(__file__).resolve().parent.parent
logging.getLogger("kafka").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Services:
    """Addresses of the real services this test session talks to."""

    kafka_bootstrap: str
    redis_url: str
    started_here: bool


def _already_running(bootstrap: str, redis_url: str) -> bool:
    from infra import kafka_local, redis_local
    from infra.procs import InfraError

    try:
        redis_local.wait_ready(redis_url, timeout_s=1)
        kafka_local.wait_ready(bootstrap, timeout_s=3)
    except InfraError:
        return False
    return True


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """Start Kafka + Redis for the session unless they already answer; stop what we started."""
    from infra.services import LocalStack

    stack = LocalStack.from_env(state_dir=REPO_ROOT / ".local" / "test", appendonly=False)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", stack.kafka.bootstrap)
    redis_url = os.environ.get("REDIS_URL", stack.redis.url)
    if _already_running(bootstrap, redis_url):
        from infra.kafka_topics import ensure_topics

        # The default alerts topics: bridges a test builds with default settings publish there.
        ensure_topics(bootstrap, {stack.alerts_topic: 3, stack.alert_events_topic: 1, stack.labels_topic: 3})
        yield Services(bootstrap, redis_url, started_here=False)
        return
    stack.up()
    try:
        yield Services(stack.kafka.bootstrap, stack.redis.url, started_here=True)
    finally:
        stack.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(services: Services) -> str:
    return services.kafka_bootstrap


@pytest.fixture(scope="session")
def redis_url(services: Services) -> str:
    return services.redis_url


def unique(name: str) -> str:
    """A name no other test uses: tests share one broker and one Redis."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    """A fresh 3-partition topic for this test."""
    from infra.kafka_topics import ensure_topics

    name = unique("t-transactions")
    ensure_topics(kafka_bootstrap, {name: 3})
    return name


@pytest.fixture
def dlq_topic(kafka_bootstrap: str) -> str:
    """A fresh 1-partition dead-letter topic for this test."""
    from infra.kafka_topics import ensure_topics

    name = unique("t-dlq")
    ensure_topics(kafka_bootstrap, {name: 1})
    return name


@pytest.fixture
def alerts_topic(kafka_bootstrap: str) -> str:
    """A fresh 3-partition alerts topic for this test (KAFKA_ALERTS_TOPIC / kafka_alerts_topic)."""
    from infra.kafka_topics import ensure_topics

    name = unique("t-alerts")
    ensure_topics(kafka_bootstrap, {name: 3})
    return name


@pytest.fixture
def labels_topic(kafka_bootstrap: str) -> str:
    """A fresh 3-partition labels topic for this test (KAFKA_LABELS_TOPIC / kafka_labels_topic)."""
    from infra.kafka_topics import ensure_topics

    name = unique("t-labels")
    ensure_topics(kafka_bootstrap, {name: 3})
    return name


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    prefix = f"{unique('test')}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        batch = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(batch), 500):
            client.delete(*batch[i : i + 500])
    finally:
        client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A bytes-returning client of the session's Redis."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def keys(redis_prefix: str) -> RedisKeys:
    return RedisKeys(redis_prefix)
