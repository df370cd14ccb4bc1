"""Rebalance: instances join, die and freeze mid-stream; a frozen zombie's stale batch must be fenced."""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from bridge.sink import Fenced, RedisSink
from common.keys import RedisKeys
from infra.kafka_topics import ensure_topics
from tests.conftest import unique
from tests.faults.flow import finish_and_compare, progress, start_producing
from tests.faults.harness import BridgeFactory, BridgeProc, hget_int, stored_offsets, wait_until
from tests.faults.kafka_io import produce
from tests.faults.private import PrivateRedis
from tests.sink_support import commit

pytestmark = pytest.mark.integration
SOAK = [pytest.mark.soak, pytest.mark.timeout(1500)]  # long variants: make soak only
logger = logging.getLogger(__name__)

SEED = 23
PARTITIONS = 6
SIZES = [pytest.param(20_000, id="20k"), pytest.param(100_000, id="100k", marks=SOAK)]


def owned(client: redis.Redis, prefix: str, name: str) -> list[int]:
    """Partitions an instance reports in its heartbeat (empty when it has none or no heartbeat)."""
    raw = client.hget(RedisKeys(prefix).bridge(name), "partitions")
    return sorted(json.loads(raw)) if raw else []


def fenced_lines(proc: BridgeProc) -> int:
    return proc.log_path.read_text(errors="replace").count("batch fenced")


def log_since(proc: BridgeProc, mark: int) -> str:
    """What the process logged after byte `mark` of its log."""
    return proc.log_path.read_bytes()[mark:].decode(errors="replace")


def received(text: str) -> set[int]:
    """Partitions the rebalance listener was handed (seek pending) in these log lines."""
    found: set[int] = set()
    for listed in re.findall(r"partitions received partitions=\[([\d, ]*)\]", text):
        found.update(int(p) for p in listed.split(",") if p.strip())
    return found


def positioned(text: str) -> dict[int, int | None]:
    """Where the main loop seeked newly assigned partitions (later lines win)."""
    seeked: dict[int, int | None] = {}
    for listed in re.findall(r"partitions assigned positions=(\{[^}]*\})", text):
        seeked.update(ast.literal_eval(listed))
    return seeked


@pytest.mark.parametrize("count", SIZES)
def test_rebalance_and_zombie_keep_state_exact(
    count: int,
    kafka_bootstrap: str,
    redis_url: str,
    redis_client: redis.Redis,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
    seeded_events: Callable[[int, int], Any],
) -> None:
    topic = unique("t-rebalance")
    ensure_topics(kafka_bootstrap, {topic: PARTITIONS})
    events = seeded_events(SEED, count)
    ref_prefix, run_prefix = prefix_factory(redis_url, "ref"), prefix_factory(redis_url, "rebal")
    common = {"bootstrap": kafka_bootstrap, "topic": topic, "redis_url": redis_url}
    group = unique("g-rebal")
    ref = bridge_factory("ref", prefix=ref_prefix, group=unique("g-ref"), **common).start()
    a, b, c = (bridge_factory(n, prefix=run_prefix, group=group, **common) for n in ("a", "b", "c"))
    a.start()
    b.start()
    for proc in (ref, a, b):
        proc.wait_assigned()
    # Paced so that events still flow when the zombie wakes up (~45 s of traffic).
    sending = start_producing(kafka_bootstrap, topic, events, rate=count / 45)
    done = progress(redis_client, run_prefix)

    def reach(fraction: float) -> None:
        target = int(count * fraction)
        wait_until(
            lambda: done() >= target,
            240,
            f"the group to apply {target} events",
            describe=lambda: "\n".join(p.log() for p in (a, b, c)),
        )

    reach(0.15)
    c.start()  # a third instance joins: partitions move from a and b
    wait_until(lambda: owned(redis_client, run_prefix, "c"), 60, "c to own partitions", describe=c.log)
    reach(0.35)
    a.kill()  # one member dies without leaving the group
    reach(0.50)
    b.signal(signal.SIGSTOP)  # a zombie: alive, but silent until its session times out
    frozen_at = stored_offsets(redis_client, RedisKeys(run_prefix).offsets(topic))
    wait_until(
        lambda: owned(redis_client, run_prefix, "c") == list(range(PARTITIONS)),
        90,
        "c to take over every partition after b's session expired",
        describe=c.log,
    )
    moved = RedisKeys(run_prefix).offsets(topic)
    wait_until(lambda: stored_offsets(redis_client, moved) != frozen_at, 60, "c to advance past b's offsets")
    b.signal(signal.SIGCONT)  # the zombie wakes up holding a batch for partitions it lost
    sending.result()
    stats = finish_and_compare(
        redis_client, kafka_bootstrap, topic, count, (ref, ref_prefix), ([b, c], run_prefix), timeout_s=300
    )
    logger.warning("faults: rebalance stats=%s zombie_fenced_batches=%d", stats, fenced_lines(b))


def test_stale_owner_commit_is_fenced_and_writes_nothing(
    redis_url: str, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    """Deterministic zombie: the old owner WATCHed partition 0, the new owner commits first."""
    topic = "t-zombie"
    offsets = keys.offsets(topic)

    def plan(n: int, next_offset: int) -> list[tuple[Any, ...]]:
        return [("HINCRBY", keys.totals, "txns", n), ("HSET", offsets, 0, next_offset)]

    old = RedisSink(redis.Redis.from_url(redis_url), keys, topic)
    new = RedisSink(redis.Redis.from_url(redis_url), keys, topic)
    try:
        stale = old.prepare([0], [])  # the zombie read offset None and WATCHes the offsets
        fresh = new.prepare([0], [])
        commit(new, plan(10, 10), fresh.stored)  # the new owner applies records 0..9
        time.sleep(0.05)
        with pytest.raises(Fenced) as info:
            commit(old, plan(10, 10), stale.stored)  # the zombie's copy of the same records
        assert info.value.stored == {0: 10}
        assert hget_int(redis_client, keys.totals, "txns") == 10, "the stale batch was applied"
        again = old.prepare([0], [])  # after re-reading, the zombie sees where the owner is
        assert again.stored == {0: 10}
    finally:
        old.close()
        new.close()


def test_rebalance_with_redis_frozen_does_not_stall_and_resumes_at_stored_offsets(
    kafka_bootstrap: str,
    redis_url: str,
    redis_client: redis.Redis,
    private_redis: PrivateRedis,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
    seeded_events: Callable[[int, int], Any],
) -> None:
    """A member dies while Redis hangs: the survivor takes its partitions without blocking the
    consumer's IO thread on Redis, seeks them once Redis answers, and the result stays exact."""
    count, half = 6_000, 3_000
    topic = unique("t-rebal-frozen")
    ensure_topics(kafka_bootstrap, {topic: PARTITIONS})
    events = seeded_events(SEED, count)
    ref_prefix, run_prefix = prefix_factory(redis_url, "ref"), prefix_factory(private_redis.url, "frozen")
    ref = bridge_factory(
        "ref",
        bootstrap=kafka_bootstrap,
        topic=topic,
        redis_url=redis_url,
        prefix=ref_prefix,
        group=unique("g"),
    ).start()
    group = unique("g-frozen")
    a, b = (
        bridge_factory(
            n,
            bootstrap=kafka_bootstrap,
            topic=topic,
            redis_url=private_redis.url,
            prefix=run_prefix,
            group=group,
        )
        for n in ("a", "b")
    )
    a.start()
    b.start()
    client = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    pid = private_redis.pid
    assert pid is not None
    try:
        for proc in (ref, a, b):
            proc.wait_assigned()
        wait_until(
            lambda: owned(client, run_prefix, "a") and owned(client, run_prefix, "b"),
            60,
            "a and b to share the partitions",
            describe=lambda: a.log() + b.log(),
        )
        produce(kafka_bootstrap, topic, events[:half])
        wait_until(
            lambda: progress(client, run_prefix)() >= half, 120, "the first half applied", describe=a.log
        )
        stored = stored_offsets(client, RedisKeys(run_prefix).offsets(topic))
        assert sum(stored.values()) == half
        mark = a.log_path.stat().st_size
        os.kill(pid, signal.SIGSTOP)  # Redis hangs: connections open, nothing answers
        try:
            b.kill()  # no LeaveGroup: a gets every partition once b's session expires
            # kafka-python's own warning when a listener holds up its IO thread (and the heartbeats)
            blocked = "Rebalance listener"
            wait_until(
                lambda: (
                    received(log_since(a, mark)) == set(range(PARTITIONS)) or blocked in log_since(a, mark)
                ),
                90,
                "a to be handed all partitions while Redis is frozen",
                describe=a.log,
            )
            during = log_since(a, mark)
            assert blocked not in during, f"the listener blocked on Redis\n{a.log()}"
            assert not positioned(during), "a seeked without Redis: where did its offsets come from?"
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_until(
            lambda: set(positioned(log_since(a, mark))) == set(range(PARTITIONS)),
            90,
            "a to seek its new partitions once Redis answers",
            describe=a.log,
        )
        assert positioned(log_since(a, mark)) == {p: stored.get(p) for p in range(PARTITIONS)}
        assert a.alive() and a.starts == 1, f"a restarted or died\n{a.log()}"
        produce(kafka_bootstrap, topic, events[half:])
        finish_and_compare(
            client, kafka_bootstrap, topic, count, (ref, ref_prefix), ([a], run_prefix), 180, redis_client
        )
    finally:
        client.close()
