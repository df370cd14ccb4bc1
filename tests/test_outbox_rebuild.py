"""Real Kafka + Redis: console actions -> outbox -> relay -> alert-events; wipe Redis, rebuild, same state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer

from bridge.alert_writes import alert_commands
from common.alert_events import decode_event
from common.alert_topic import alert_record
from common.keys import RedisKeys
from dashapp.store import AlertWorkflow, VersionConflict
from dashapp.store.list_entries import EntryIn
from dashapp.store.lists import ListStore
from dashapp.store.rules_store import RulesStore
from infra.kafka_topics import ensure_topics
from outbox.rebuild import NotEmpty, rebuild
from outbox.relay import Relay
from outbox.topic_read import Record, read_topic
from tests.conftest import unique
from tests.test_store_fixtures import make_alert

pytestmark = pytest.mark.integration

T0 = 1_790_000_000.0


class Clock:
    """A console clock that moves 1.25 s per reading, so every change has its own time."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        self.now += 1.25
        return self.now


@pytest.fixture
def events_topic(kafka_bootstrap: str) -> str:
    name = unique("t-alert-events")
    ensure_topics(kafka_bootstrap, {name: 2})  # two partitions: the rebuild must order across them
    return name


@pytest.fixture
def producer(kafka_bootstrap: str) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", bootstrap_timeout_ms=5_000)
    yield p
    p.close()


def _records(bootstrap: str, topic: str) -> list[Record]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, bootstrap_timeout_ms=5_000
    )
    try:
        return list(read_topic(consumer, topic))
    finally:
        consumer.close()


def _flush(client: redis.Redis, keys: RedisKeys) -> None:
    found = list(client.scan_iter(match=f"{keys.prefix}*", count=1000))
    if found:
        client.delete(*found)


def snapshot(client: redis.Redis, keys: RedisKeys) -> dict[str, Any]:
    """Every key of the namespace with its value, minus what is not workflow or configuration state:
    streams (live feeds, the outbox: their entry ids are times), `seq`, and the bridge's write time of
    alerts no analyst touched (the rebuild uses the alert record's Kafka time)."""
    out: dict[str, Any] = {}
    for raw in client.scan_iter(match=f"{keys.prefix}*", count=1000):
        key = raw.decode()
        kind = bytes(client.type(raw)).decode()  # type: ignore[arg-type]
        name = key[len(keys.prefix) :]
        if kind == "stream" or key in (keys.seq, keys.events_relay):
            continue
        if kind == "hash":
            value: Any = {bytes(k).decode(): v for k, v in client.hgetall(raw).items()}  # type: ignore[arg-type]
            if key.startswith(keys.prefix + "alert:") and value.get("version") == b"1":
                value.pop("updated_at")
        elif kind == "list":
            value = client.lrange(raw, 0, -1)
        elif kind == "zset":
            value = client.zrange(raw, 0, -1, withscores=True)
        elif kind == "set":
            value = sorted(client.smembers(raw))
        else:
            value = client.get(raw)
        out[name] = (kind, value)
    return out


def console_session(client: redis.Redis, keys: RedisKeys, ids: list[str]) -> None:
    """What several analysts and an admin do in the console, through the stores the console uses."""
    clock = Clock()
    wf = AlertWorkflow(client, keys, clock=clock)
    rules = RulesStore(client, keys, clock)
    lists = ListStore(client, keys, clock=clock, in_use=rules.lists_in_use)
    wf.act(ids[0], "acknowledge", "ana", 1)
    wf.act(ids[1], "assign_to_me", "bob", 1, "looking")
    wf.act(ids[1], "resolve_fraud", "bob", 2, "card blocked, customer confirmed")
    wf.act(ids[2], "assign_to_me", "ana", 1)
    wf.act(ids[2], "assign_to_me", "bob", 2, "taking over")
    wf.act(ids[2], "resolve_false_positive", "bob", 3, "customer travelling")
    wf.act(ids[2], "reopen", "carol", 4, "second look")
    with pytest.raises(VersionConflict):
        wf.act(ids[2], "acknowledge", "dan", 1)  # stale: refused, and no event
    wf.act_many([(ids[3], 1), (ids[4], 1)], "acknowledge", "carol", "bulk triage")
    live = rules.current()
    rules.update({"high_amount": {"threshold": 7777}}, "admin", live.version)
    lists.put(
        "deny_cards", [EntryIn("card-1", None, "stolen"), EntryIn("card-2", 1_800_000_000_000, "")], "admin"
    )
    lists.add("deny_cards", [EntryIn("card-3", None, "chargeback")], "ana", "from case 12")
    lists.remove("deny_cards", ["card-2"], "admin")
    lists.put(
        "vip_merchants", [EntryIn(f"m-{i}", None, "") for i in range(4_500)], "admin", "import"
    )  # 3 parts
    lists.delete("vip_merchants", "admin", "wrong file")
    rules.restore(1, "admin", "", rules.current().version)
    wf.act(ids[0], "resolve_false_positive", "ana", 2, "")


def test_wipe_rebuild_gives_the_same_state(
    redis_client, keys, alerts_topic, events_topic, kafka_bootstrap, producer
):
    alerts = [make_alert(n, severity="high" if n % 2 == 0 else "medium") for n in range(6)]
    for alert in alerts:  # what the bridge does with each alert: the topic, then Redis
        key, value, headers = alert_record(alert)
        producer.send(alerts_topic, value, key, headers)
    producer.flush()
    with redis_client.pipeline(transaction=False) as pipe:
        for command in alert_commands(keys, alerts, 1_789_999_999_000):
            pipe.execute_command(*command)
        pipe.execute()
    ids = [a.alert_id for a in alerts]

    console_session(redis_client, keys, ids)
    outbox_len = redis_client.xlen(keys.events_outbox)
    relay = Relay(redis_client, keys, producer, events_topic, batch=4)  # several rounds
    while relay.step().published:
        pass
    assert redis_client.xlen(keys.events_outbox) == 0
    published = _records(kafka_bootstrap, events_topic)
    assert len(published) == outbox_len == 19  # 10 alert actions, 2 rules versions, 5 list changes in 7 parts
    kinds = Counter(decode_event(r.value).kind for r in published)
    assert kinds == {
        "alert.acknowledged": 3, "alert.assigned": 3, "alert.resolved": 3, "alert.reopened": 1,
        "rules.published": 1, "rules.restored": 1, "list.changed": 7,
    }  # fmt: skip

    # a relay that died after Kafka's acknowledgement but before deleting: the same events again
    for r in published[:5]:
        producer.send(events_topic, r.value, b"dup")
    producer.flush()

    before = snapshot(redis_client, keys)
    assert "rules" in before and "list:deny_cards" in before and "list:vip_merchants" not in before
    _flush(redis_client, keys)
    counts = rebuild(
        redis_client,
        keys,
        iter(_records(kafka_bootstrap, alerts_topic)),
        iter(_records(kafka_bootstrap, events_topic)),
    )
    assert counts["events_failed"] == counts["events_invalid"] == counts["alerts_invalid"] == 0
    assert counts["events_duplicate"] == 5 and counts["alerts"] == 6
    after = snapshot(redis_client, keys)
    assert sorted(after) == sorted(before), (set(after) ^ set(before), counts)
    for name in before:
        assert after[name] == before[name], name
    assert redis_client.xlen(keys.events_outbox) == 0  # the rebuild publishes nothing again

    with pytest.raises(NotEmpty):
        rebuild(redis_client, keys, iter([]), iter([]))
