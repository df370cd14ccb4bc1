"""On real Kafka + Redis: a replay read ahead, or capped in events/s, gives the sequential result."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from backtest.settings import load_settings
from tests.conftest import unique
from tests.streams import generated, produce
from tests.test_backtest import Worker, plant, planted_draft

pytestmark = pytest.mark.integration
TIMING = ("seconds", "events_per_s", "cpu_seconds")


def run_once(
    client: redis.Redis, bootstrap: str, url: str, topic: str, window: tuple[int, int], **pace: Any
) -> dict[str, Any]:
    """One run of the planted draft by a fresh worker with these pacing settings; its result."""
    settings = load_settings(
        env={},
        kafka_bootstrap_servers=bootstrap,
        kafka_topic=topic,
        redis_url=url,
        redis_key_prefix=f"{unique('bt-pace')}:",
        batch_max=300,
        sample_max=1_000,
        **pace,
    )
    worker = Worker(settings, client)
    try:
        run_id = worker.store.submit(planted_draft(), *window, by="test")
        assert worker.finished(run_id)["status"] == "done"
        result = worker.store.result(run_id)
    finally:
        worker.stop()
        for key in client.scan_iter(match=f"{settings.redis_key_prefix}*"):
            client.delete(key)
    assert result is not None
    return result


def test_read_ahead_and_a_cap_change_nothing_but_the_timing(
    kafka_bootstrap: str, redis_url: str, topic: str, redis_client: redis.Redis
) -> None:
    records, planted = plant(generated(3_000, seed=45), every=61)
    start_ms = int(time.time() * 1000) - 1_000
    produce(kafka_bootstrap, topic, records)
    window = (start_ms, int(time.time() * 1000) + 1_000)
    runs = [
        run_once(redis_client, kafka_bootstrap, redis_url, topic, window, **pace)
        for pace in ({"prefetch": 0}, {"prefetch": 3}, {"prefetch": 2, "max_eps": 6_000})
    ]
    capped = runs[2]["summary"]
    # an upper bound only: a slow machine lowers the rate, it cannot fail this
    assert capped["events_per_s"] <= 6_000
    for result in runs:
        assert result["summary"]["range_events"] == len(records)
        for key in TIMING:
            result["summary"].pop(key)
    assert runs[0] == runs[1] == runs[2]
    planted_row = next(r for r in runs[0]["rules"] if r["rule"] == "planted_merchant")
    assert planted_row["added"] == len(planted)
