"""Crash: SIGKILL the bridge at random moments mid-stream; its Redis state must equal a clean run's."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from tests.conftest import unique
from tests.faults.flow import finish_and_compare, progress, start_producing
from tests.faults.harness import BridgeFactory, wait_until

pytestmark = pytest.mark.integration
SOAK = [pytest.mark.soak, pytest.mark.timeout(1500)]  # long variants: make soak only
logger = logging.getLogger(__name__)

SEED = 11
SIZES = [
    pytest.param(15_000, 3, id="15k-3kills"),
    pytest.param(100_000, 5, id="100k-5kills", marks=SOAK),
]


@pytest.mark.parametrize(("count", "kills"), SIZES)
def test_sigkilled_bridge_matches_uninterrupted_reference(
    count: int,
    kills: int,
    kafka_bootstrap: str,
    redis_url: str,
    topic: str,
    redis_client: redis.Redis,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
    seeded_events: Callable[[int, int], Any],
) -> None:
    events = seeded_events(SEED, count)
    rng = random.Random(f"crash-{count}")
    ref_prefix, run_prefix = prefix_factory(redis_url, "ref"), prefix_factory(redis_url, "crash")
    common = {"bootstrap": kafka_bootstrap, "topic": topic, "redis_url": redis_url}
    ref = bridge_factory("ref", prefix=ref_prefix, group=unique("g-ref"), **common).start()
    run = bridge_factory("crash", prefix=run_prefix, group=unique("g-crash"), **common).start()
    ref.wait_assigned()
    run.wait_assigned()
    sending = start_producing(kafka_bootstrap, topic, events)
    done = progress(redis_client, run_prefix)
    kill_at = sorted(int(rng.uniform(0.1, 0.9) * count) for _ in range(kills))
    killed_at = []
    for target in kill_at:
        wait_until(
            lambda t=target: done() >= t,  # type: ignore[misc]
            180,
            f"crash run to apply {target} events",
            describe=run.log,
        )
        time.sleep(rng.uniform(0.0, 0.4))  # a random moment inside the following batches
        killed_at.append(done())
        run.kill()
        run.start()
    sending.result()
    stats = finish_and_compare(
        redis_client, kafka_bootstrap, topic, count, (ref, ref_prefix), ([run], run_prefix), timeout_s=240
    )
    assert run.starts == kills + 1
    logger.warning("faults: crash run killed at applied=%s stats=%s", killed_at, stats)
