"""The replay queue on real Redis: one claim per entry, taken back after a restart or from a dead notifier."""

from __future__ import annotations

import json

import pytest
import redis

from common.keys import RedisKeys
from common.webhook_replay import ReplayClaims

pytestmark = pytest.mark.integration


def _queue(client: redis.Redis, keys: RedisKeys, *event_ids: str) -> None:
    for event_id in event_ids:
        client.xadd(
            keys.webhook_replay, {"letter": json.dumps({"endpoint_id": "wh_1", "event_id": event_id})}
        )


def test_each_entry_goes_to_one_notifier_and_leaves_when_acknowledged(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    first, second = ReplayClaims(redis_client, keys, "host-a"), ReplayClaims(redis_client, keys, "host-b")
    first.ensure_group()
    second.ensure_group()  # the group exists already: no error
    _queue(redis_client, keys, "e1", "e2")
    got = first.claim()
    assert [letter["event_id"] for _id, letter in got if letter] == ["e1", "e2"]
    assert second.claim() == []  # claimed by the first, not idle long
    first.ack(got[0][0])
    assert redis_client.xlen(keys.webhook_replay) == 1
    redis_client.xadd(keys.webhook_replay, {"letter": b"not json"})
    assert [letter for _id, letter in second.claim()] == [None]  # unreadable: the caller drops it


def test_a_restarted_notifier_takes_back_its_claims_and_a_dead_ones_are_taken_over(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    before = ReplayClaims(redis_client, keys, "host-a")
    before.ensure_group()
    _queue(redis_client, keys, "e1")
    (entry, _letter), *_ = before.claim()
    restarted = ReplayClaims(redis_client, keys, "host-a")  # same host name, new process
    assert [e for e, _ in restarted.claim()] == [entry]
    assert ReplayClaims(redis_client, keys, "host-b").claim() == []  # not idle for the claim time yet
    other = ReplayClaims(redis_client, keys, "host-b", claim_idle_ms=0)  # host-a counts as dead now
    assert [e for e, _ in other.claim()] == [entry]
    other.ack(entry)
    assert redis_client.xlen(keys.webhook_replay) == 0
    assert ReplayClaims(redis_client, keys, "host-a").claim() == []


def test_a_stream_deleted_under_a_running_notifier_is_made_again(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    claims = ReplayClaims(redis_client, keys, "host-a")
    claims.ensure_group()
    redis_client.delete(keys.webhook_replay)  # e.g. a clean-up: the group goes with the stream
    assert claims.claim() == []
    _queue(redis_client, keys, "e1")
    assert [letter["event_id"] for _id, letter in claims.claim() if letter] == ["e1"]
