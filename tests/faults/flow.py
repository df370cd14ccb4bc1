"""Shared flows of the exactness tests: produce in the background, finish, compare to a reference."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis

from common.keys import RedisKeys
from tests.faults.harness import Background, BridgeProc, caught_up, hget_int, wait_until
from tests.faults.kafka_io import end_offsets
from tests.faults.kafka_io import produce as send_records
from tests.faults.snapshot import alert_ids, assert_same_state, snapshot

logger = logging.getLogger(__name__)


def finish_and_compare(
    client: redis.Redis,
    bootstrap: str,
    topic: str,
    count: int,
    ref: tuple[BridgeProc, str],
    run: tuple[list[BridgeProc], str],
    timeout_s: float,
    ref_client: redis.Redis | None = None,
) -> dict[str, Any]:
    """Wait until the reference and the run both reach the topic end, stop them, compare states.

    The reference may live in another Redis (`ref_client`); `client` holds the faulted run.
    """
    ends = end_offsets(bootstrap, topic)
    assert sum(ends.values()) == count, f"topic holds {sum(ends.values())} records, expected {count}"
    ref_proc, ref_prefix = ref
    procs, run_prefix = run
    rclient = ref_client if ref_client is not None else client
    for c, prefix, watched in ((rclient, ref_prefix, [ref_proc]), (client, run_prefix, procs)):
        wait_caught_up(c, RedisKeys(prefix).offsets(topic), ends, timeout_s, watched)
    for proc in [ref_proc, *procs]:
        if proc.alive():
            assert proc.terminate() == 0, f"{proc.name} did not exit 0 on SIGTERM\n{proc.log()}"
    ref_snap, run_snap = snapshot(rclient, ref_prefix), snapshot(client, run_prefix)
    keys_ref, keys_run = RedisKeys(ref_prefix), RedisKeys(run_prefix)
    ref_txns, run_txns = hget_int(rclient, keys_ref.totals, "txns"), hget_int(client, keys_run.totals, "txns")
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


def start_producing(bootstrap: str, topic: str, events: Any, rate: float | None = None) -> Background:
    """Send the events from a background thread (they flow while bridges run and die)."""
    thread = Background(lambda: send_records(bootstrap, topic, events, rate=rate), name="producer")
    thread.start()
    return thread


def progress(client: redis.Redis, prefix: str) -> Callable[[], int]:
    key = RedisKeys(prefix).totals
    return lambda: hget_int(client, key, "txns")


def wait_caught_up(
    client: redis.Redis, offsets_key: str, ends: dict[int, int], timeout_s: float, watched: list[BridgeProc]
) -> None:
    """Wait until the stored offsets reach `ends`; the failure message shows offsets and logs."""

    def describe() -> str:
        return "\n".join([f"stored offsets: {client.hgetall(offsets_key)}", *(p.log() for p in watched)])

    wait_until(
        lambda: caught_up(client, offsets_key, ends),
        timeout_s,
        f"bridge(s) writing {offsets_key} to reach the topic end {ends}",
        describe=describe,
    )
