"""Liveness of a cold start: a bridge subscribed to a just-created topic must get its partitions.

Known failure (reported to the lead): intermittently the bridge's first group join sees "No partition
metadata", the follow-up rejoin never completes and the bridge spins at ~45 % CPU with no partitions.
A plain KafkaConsumer with the bridge's settings does not show it. Repeated starts make it likely.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.kafka_topics import ensure_topics
from tests.conftest import unique
from tests.faults.harness import BridgeFactory, wait_until

pytestmark = pytest.mark.integration
SOAK = [pytest.mark.soak, pytest.mark.timeout(1500)]  # long variants: make soak only

# Soak only: while the bug exists a short make-test variant would fail at random, not reliably.
STARTS = [pytest.param(20, id="20-starts", marks=SOAK)]


@pytest.mark.parametrize("starts", STARTS)
def test_bridge_on_fresh_topic_always_gets_partitions(
    starts: int,
    kafka_bootstrap: str,
    redis_url: str,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
) -> None:
    stuck = []
    for i in range(starts):
        topic = unique("t-cold")
        ensure_topics(kafka_bootstrap, {topic: 3})
        bridge = bridge_factory(
            f"cold{i}",
            bootstrap=kafka_bootstrap,
            topic=topic,
            redis_url=redis_url,
            prefix=prefix_factory(redis_url, "cold"),
            group=unique("g-cold"),
        ).start()
        try:
            wait_until(bridge.assigned, 30, "partitions assigned")
        except AssertionError:
            stuck.append(bridge.log(12))
        bridge.kill()
    assert not stuck, f"{len(stuck)} of {starts} cold starts never got partitions:\n" + "\n".join(stuck)
