"""Fault-test fixtures: bridge processes, private Redis/Kafka, key prefixes, seeded events."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import unique
from tests.faults.harness import BridgeFactory
from tests.faults.private import PrivateKafka, PrivateRedis

# The test process's own admin/consumer clients log every refused reconnect while a broker we
# stopped on purpose is down; failures are asserted explicitly, so keep that noise out of reports.
logging.getLogger("kafka").setLevel(logging.CRITICAL)


@pytest.fixture
def bridge_factory(tmp_path: Path) -> Iterator[BridgeFactory]:
    """`bridge_factory(name, bootstrap=..., topic=..., ...)` -> BridgeProc; all killed at teardown."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "REDIS_", "BRIDGE_"))}
    factory = BridgeFactory(env, tmp_path)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def prefix_factory() -> Iterator[Callable[[str, str], str]]:
    """`prefix_factory(redis_url, name)` -> a unique key prefix; its keys are deleted afterwards."""
    made: list[tuple[str, str]] = []

    def make(redis_url: str, name: str) -> str:
        prefix = f"{unique(name)}:"
        made.append((redis_url, prefix))
        return prefix

    yield make
    for url, prefix in made:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            batch = list(client.scan_iter(match=f"{prefix}*", count=2000))
            for i in range(0, len(batch), 1000):
                client.delete(*batch[i : i + 1000])
        except redis.ConnectionError:
            pass  # a private instance already torn down takes its keys with it
        finally:
            client.close()


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A redis-server with AOF on a free port, for tests that stop Redis (never the shared one)."""
    instance = PrivateRedis.create(tmp_path_factory.mktemp("private-redis"))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    """A single-node Kafka broker on free ports, for tests that stop the broker."""
    instance = PrivateKafka.create(tmp_path_factory.mktemp("private-kafka"))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@functools.lru_cache(maxsize=4)
def _generated(seed: int, count: int) -> tuple[Any, ...]:
    import producer

    return tuple(producer.generate(seed=seed, count=count))


@pytest.fixture(scope="session")
def seeded_events() -> Callable[[int, int], tuple[Any, ...]]:
    """`seeded_events(seed, count)` -> the producer's deterministic events (cached per session)."""
    return _generated
