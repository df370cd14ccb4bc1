"""The fenced Redis sink on its own: stale batches are rejected, unrelated writes are not conflicts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from bridge.sink import Fenced, RedisSink, SinkUnavailable
from common.keys import RedisKeys
from tests.sink_support import commit

pytestmark = pytest.mark.integration
TOPIC = "t-sink"


@pytest.fixture
def sinks(redis_url: str, keys: RedisKeys) -> Iterator[tuple[RedisSink, RedisSink]]:
    a = RedisSink(redis.Redis.from_url(redis_url), keys, TOPIC)
    b = RedisSink(redis.Redis.from_url(redis_url), keys, TOPIC)
    yield a, b
    a.close()
    b.close()


def plan(keys: RedisKeys, partition: int, n: int, next_offset: int) -> list[tuple]:
    return [("HINCRBY", keys.totals, "txns", n), ("HSET", keys.offsets(TOPIC), partition, next_offset)]


def txns(client: redis.Redis, keys: RedisKeys) -> int:
    return int(client.hget(keys.totals, "txns") or 0)


def test_stale_batch_is_fenced_and_writes_nothing(
    sinks: tuple[RedisSink, RedisSink], keys: RedisKeys, redis_client: redis.Redis
) -> None:
    zombie, owner = sinks
    stale = zombie.prepare([0], [])  # prepared before the new owner committed
    fresh = owner.prepare([0], [])
    commit(owner, plan(keys, 0, 10, 10), fresh.stored)
    with pytest.raises(Fenced) as info:
        commit(zombie, plan(keys, 0, 10, 10), stale.stored)
    assert info.value.stored == {0: 10}
    assert txns(redis_client, keys) == 10
    assert zombie.prepare([0], []).stored == {0: 10}  # the zombie re-reads where the owner is


def test_write_to_another_partition_is_not_a_conflict(
    sinks: tuple[RedisSink, RedisSink], keys: RedisKeys, redis_client: redis.Redis
) -> None:
    mine, other = sinks
    redis_client.hset(keys.offsets(TOPIC), mapping={"0": 5, "1": 7})
    prepared = mine.prepare([0], [])
    commit(other, plan(keys, 1, 3, 10), other.prepare([1], []).stored)  # fires our WATCH
    commit(mine, plan(keys, 0, 4, 9), prepared.stored)  # re-checked, still ours: applied once
    assert txns(redis_client, keys) == 7
    assert redis_client.hgetall(keys.offsets(TOPIC)) == {b"0": b"9", b"1": b"10"}


def test_prepare_reads_offsets_and_card_states(
    sinks: tuple[RedisSink, RedisSink], keys: RedisKeys, redis_client: redis.Redis
) -> None:
    sink, _ = sinks
    redis_client.set(keys.card_state("c1"), b"[1,2]")
    redis_client.hset(keys.offsets(TOPIC), "2", 42)
    got = sink.prepare([1, 2], [keys.card_state("c1"), keys.card_state("c2")])
    assert got.stored == {1: None, 2: 42}
    assert got.states == {keys.card_state("c1"): b"[1,2]", keys.card_state("c2"): None}


def test_unreachable_redis_raises_sink_unavailable(keys: RedisKeys) -> None:
    dead = RedisSink(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5), keys, TOPIC)
    with pytest.raises(SinkUnavailable):
        dead.prepare([0], [])
    dead.close()


def test_a_sent_commit_that_was_fenced_is_reported_by_confirm(
    sinks: tuple[RedisSink, RedisSink], keys: RedisKeys, redis_client: redis.Redis
) -> None:
    zombie, owner = sinks
    stale = zombie.prepare([0], [])
    commit(owner, plan(keys, 0, 10, 10), owner.prepare([0], []).stored)
    zombie.send_commit(plan(keys, 0, 10, 10), stale.stored)  # returns before Redis answers
    assert zombie.unconfirmed
    with pytest.raises(Fenced) as info:
        zombie.confirm()
    assert info.value.stored == {0: 10}
    assert not zombie.unconfirmed
    assert txns(redis_client, keys) == 10


def test_a_sent_commit_retries_after_an_unrelated_write_and_applies_once(
    sinks: tuple[RedisSink, RedisSink], keys: RedisKeys, redis_client: redis.Redis
) -> None:
    mine, other = sinks
    redis_client.hset(keys.offsets(TOPIC), mapping={"0": 5, "1": 7})
    prepared = mine.prepare([0], [])
    commit(other, plan(keys, 1, 3, 10), other.prepare([1], []).stored)  # fires our WATCH
    mine.send_commit(plan(keys, 0, 4, 9), prepared.stored)
    mine.confirm()
    assert txns(redis_client, keys) == 7
    assert redis_client.hgetall(keys.offsets(TOPIC)) == {b"0": b"9", b"1": b"10"}


def test_nothing_else_is_sent_while_a_commit_is_unconfirmed(
    sinks: tuple[RedisSink, RedisSink], keys: RedisKeys, redis_client: redis.Redis
) -> None:
    sink, _ = sinks
    sink.send_commit(plan(keys, 0, 1, 1), sink.prepare([0], []).stored)
    with pytest.raises(RuntimeError, match="unconfirmed"):
        sink.prepare([0], [])  # its replies would be read as the commit's
    sink.confirm()
    assert sink.prepare([0], []).stored == {0: 1}
    assert txns(redis_client, keys) == 1
