"""Crash: SIGKILL the bridge at random moments mid-stream; its Redis state must equal a clean run's."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from common.keys import RedisKeys
from tests.conftest import unique
from tests.faults.harness import Background, BridgeFactory, BridgeProc, caught_up, end_offsets, hget_int
from tests.faults.harness import produce as send_records
from tests.faults.harness import wait_until
from tests.faults.snapshot import alert_ids, assert_same_state, snapshot

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

SEED = 11
SIZES = [
    pytest.param(20_000, 3, id="20k-3kills"),
    pytest.param(100_000, 5, id="100k-5kills", marks=pytest.mark.soak),
]


def finish_and_compare(
    client: redis.Redis, bootstrap: str, topic: str, count: int,
    ref: tuple[BridgeProc, str], runs: list[tuple[BridgeProc, str]] | tuple[list[BridgeProc], str],
    timeout_s: float,
) -> dict[str, Any]:
    """Wait until the reference and the run both reach the topic end, stop them, compare states."""
    ends = end_offsets(bootstrap, topic)
    assert sum(ends.values()) == count, f"topic holds {sum(ends.values())} records, expected {count}"
    ref_proc, ref_prefix = ref
    procs, run_prefix = (runs[0], runs[1]) if isinstance(runs, tuple) else ([p for p, _ in runs], runs[0][1])
    for prefix, watched in ((ref_prefix, [ref_proc]), (run_prefix, procs)):
        key = RedisKeys(prefix).offsets(topic)
        wait_until(
            lambda key=key: caught_up(client, key, ends), timeout_s,  # type: ignore[misc]
            f"bridge(s) with prefix {prefix} to reach the topic end {ends}",
            describe=lambda key=key, watched=watched: (  # type: ignore[misc]
                f"stored offsets: {client.hgetall(key)}\n" + "\n".join(p.log() for p in watched)
            ),
        )
    for proc in [ref_proc, *procs]:
        if proc.alive():
            assert proc.terminate() == 0, f"{proc.name} did not exit 0 on SIGTERM\n{proc.log()}"
    ref_snap, run_snap = snapshot(client, ref_prefix), snapshot(client, run_prefix)
    keys_ref, keys_run = RedisKeys(ref_prefix), RedisKeys(run_prefix)
    ref_txns, run_txns = hget_int(client, keys_ref.totals, "txns"), hget_int(client, keys_run.totals, "txns")
    assert ref_txns == count, f"reference counted {ref_txns} transactions, expected {count}"
    assert run_txns == count, f"faulted run counted {run_txns} transactions, expected {count} (lost/double)"
    assert_same_state(ref_snap, run_snap, f"(reference prefix {ref_prefix}, run prefix {run_prefix})")
    stats = {
        "txns": run_txns,
        "alerts": len(alert_ids(run_snap)),
        "keys_compared": len(run_snap.values),
        "stream_entries_compared": {k.decode(): len(v) for k, v in run_snap.streams.items()},
    }
    logger.warning("faults: state equal to reference %s", stats)
    return stats


def start_producing(bootstrap: str, topic: str, events: Any) -> Background:
    """Send the events from a background thread (they flow while bridges run and die)."""
    thread = Background(lambda: send_records(bootstrap, topic, events), name="producer")
    thread.start()
    return thread


def progress(client: redis.Redis, prefix: str) -> Callable[[], int]:
    key = RedisKeys(prefix).totals
    return lambda: hget_int(client, key, "txns")


@pytest.mark.parametrize(("count", "kills"), SIZES)
def test_sigkilled_bridge_matches_uninterrupted_reference(
    count: int, kills: int, kafka_bootstrap: str, redis_url: str, topic: str, redis_client: redis.Redis,
    bridge_factory: BridgeFactory, prefix_factory: Callable[[str, str], str],
    seeded_events: Callable[[int, int], Any],
) -> None:
    events = seeded_events(SEED, count)
    rng = random.Random(f"crash-{count}")
    ref_prefix, run_prefix = prefix_factory(redis_url, "ref"), prefix_factory(redis_url, "crash")
    common = {"bootstrap": kafka_bootstrap, "topic": topic, "redis_url": redis_url}
    ref = bridge_factory("ref", prefix=ref_prefix, group=unique("g-ref"), **common).start()
    run = bridge_factory("crash", prefix=run_prefix, group=unique("g-crash"), **common).start()
    sending = start_producing(kafka_bootstrap, topic, events)
    done = progress(redis_client, run_prefix)
    kill_at = sorted(int(rng.uniform(0.1, 0.9) * count) for _ in range(kills))
    killed_at = []
    for target in kill_at:
        wait_until(lambda t=target: done() >= t, 180, f"crash run to apply {target} events",  # type: ignore[misc]
                   describe=run.log)
        time.sleep(rng.uniform(0.0, 0.4))  # a random moment inside the following batches
        killed_at.append(done())
        run.kill()
        run.start()
    sending.result()
    stats = finish_and_compare(redis_client, kafka_bootstrap, topic, count, (ref, ref_prefix),
                               [(run, run_prefix)], timeout_s=240)
    assert run.starts == kills + 1
    logger.warning("faults: crash run killed at applied=%s stats=%s", killed_at, stats)
