"""Kafka topics for the local stack, tests and benchmarks: create them and wait until they serve."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from infra.procs import InfraError


def ensure_topics(
    bootstrap: str, topics: dict[str, int], timeout_s: float = 30.0, configs: dict[str, str] | None = None
) -> None:
    """Create topics (name -> partitions) that do not exist yet, with these topic `configs`, and wait
    until every partition of each has a leader; existing ones are left alone.

    Without the wait a producer started right after creation logs a burst of NotLeaderForPartition
    retries, and a consumer group that joins first may get no partitions until its next metadata
    refresh.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        new = [
            NewTopic(name, num_partitions=n, replication_factor=1, topic_configs=dict(configs or {}))
            for name, n in topics.items()
            if name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
        _retry_until(
            lambda: _have_leaders(admin, list(topics)), timeout_s, f"topics {sorted(topics)} have no leader"
        )
    finally:
        admin.close()


def wait_serving(bootstrap: str, topics: list[str], timeout_s: float = 30.0) -> None:
    """Wait until every partition's leader answers a ListOffsets request.

    A restarted broker names itself leader in the metadata while it is still loading its logs;
    producers started then log a burst of NotLeaderForPartition retries.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=5_000, enable_auto_commit=False)

    def served() -> bool:
        known = {t: consumer.partitions_for_topic(t) for t in topics}
        if not all(known.values()):
            return False  # a topic without partitions in the metadata yet is not served either
        try:
            consumer.end_offsets([TopicPartition(t, p) for t, ps in known.items() for p in ps or ()])
        except KafkaError:
            return False
        return True

    try:
        _retry_until(served, timeout_s, f"partitions of {topics} not served")
    finally:
        consumer.close()


def _retry_until(ready: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Call `ready` every 0.2 s until it is true; InfraError saying `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise InfraError(f"kafka: {what} after {timeout_s:.0f} s")
        time.sleep(0.2)


def _have_leaders(admin: Any, names: list[str]) -> bool:
    """True once metadata shows every partition of every topic in `names` with a leader."""
    for desc in admin.describe_topics(names):
        parts = desc.get("partitions") or []
        if desc.get("error_code") or not parts or any(p.get("leader_id", -1) < 0 for p in parts):
            return False
    return True
