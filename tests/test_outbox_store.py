"""Real Redis: each console change writes exactly one outbox event in its own MULTI; a refused or
conflicting change writes none. Real Kafka: the relay's records, and a non-event kept aside."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import redis
from kafka import KafkaProducer
from kafka.errors import KafkaError

from common.alert_events import decode_event
from common.keys import RedisKeys
from common.rules import RuleValidationError
from dashapp.store import AlertWorkflow, InvalidAction, VersionConflict
from dashapp.store.list_entries import EntryIn, ListTooLarge
from dashapp.store.lists import ListStore
from dashapp.store.outbox_events import LIST_PART_ENTRIES
from dashapp.store.rules_store import RulesStore
from infra.kafka_topics import ensure_topics
from outbox.relay import Relay
from outbox.topic_read import read_topic
from tests.conftest import unique
from tests.test_store_fixtures import BASE_MS, make_alert, put_alert

pytestmark = pytest.mark.integration

CLOCK_S = 1_790_000_500.25


def outbox(client: redis.Redis, keys: RedisKeys) -> list[dict[str, Any]]:
    entries: Any = client.xrange(keys.events_outbox)
    return [{"id": i.decode(), **msgspec.structs.asdict(decode_event(f[b"e"]))} for i, f in entries]


def test_workflow_action_writes_one_event_with_before_and_after(redis_client, keys) -> None:
    aid = put_alert(redis_client, keys, make_alert(1))
    wf = AlertWorkflow(redis_client, keys, clock=lambda: CLOCK_S)
    wf.act(aid, "assign_to_me", "ana", 1)
    wf.act(aid, "resolve_fraud", "ana", 2, "card blocked")
    events = outbox(redis_client, keys)
    assert [e["kind"] for e in events] == ["alert.assigned", "alert.resolved"]
    resolved = events[1]
    assert resolved["subject"] == aid and resolved["actor"] == "ana" and resolved["note"] == "card blocked"
    assert resolved["before"] == {"status": "assigned", "assignee": "ana", "version": 2}
    assert resolved["after"] == {
        "status": "resolved_fraud", "assignee": "ana", "version": 3, "disposition": "fraud",
        "txn_id": "txn-1", "card_id": "card-1", "event_ms": BASE_MS + 1000,
    }  # fmt: skip
    assert resolved["at_ms"] == int(CLOCK_S * 1000) and resolved["at"] == "2026-09-21T14:21:40.250Z"


def test_refused_and_conflicting_actions_write_no_event(redis_client, keys) -> None:
    aid = put_alert(redis_client, keys, make_alert(2))
    wf = AlertWorkflow(redis_client, keys, clock=lambda: CLOCK_S)
    wf.act(aid, "acknowledge", "ana", 1)
    with pytest.raises(VersionConflict):
        wf.act(aid, "acknowledge", "bob", 1)
    with pytest.raises(InvalidAction):
        wf.act(aid, "acknowledge", "bob", 2)  # already acknowledged
    assert len(outbox(redis_client, keys)) == 1


def test_a_transaction_aborted_by_a_concurrent_write_leaves_no_event(redis_client, keys, redis_url) -> None:
    """The clock is read after WATCH and before MULTI: touching the alert there aborts the EXEC, and
    the retry applies the action once. One history entry and one event mean the aborted attempt's
    event went with its change."""
    aid = put_alert(redis_client, keys, make_alert(3))
    other = redis.Redis.from_url(redis_url)
    touched: list[bool] = []

    def clock() -> float:
        if not touched:
            touched.append(True)
            other.hset(keys.alert(aid), "unrelated", "1")  # e.g. a bridge replay writing the hash
        return CLOCK_S

    try:
        AlertWorkflow(redis_client, keys, clock=clock).act(aid, "acknowledge", "ana", 1)
    finally:
        other.close()
    assert touched and redis_client.llen(keys.alert_history(aid)) == 1
    assert [e["kind"] for e in outbox(redis_client, keys)] == ["alert.acknowledged"]


def test_rules_changes_write_events_and_refusals_none(redis_client, keys) -> None:
    rules = RulesStore(redis_client, keys, lambda: CLOCK_S)
    with pytest.raises(RuleValidationError):
        rules.update({"high_amount": {"threshold": -5}}, "admin", 1)
    new = rules.update({"high_amount": {"threshold": 7000}}, "admin", 1)
    with pytest.raises(VersionConflict):
        rules.update({"high_amount": {"threshold": 8000}}, "admin", 1)
    rules.restore(1, "admin", "", new.version)
    published, restored = outbox(redis_client, keys)
    assert published["kind"] == "rules.published" and published["subject"] == "2"
    assert published["before"]["version"] == 1 and published["before"]["doc"]["version"] == 1
    assert {"rule": "high_amount", "field": "threshold", "old": 5000.0, "new": 7000.0}.items() <= (
        published["after"]["changes"][0].items()
    )
    assert restored["kind"] == "rules.restored" and restored["after"]["restored_from"] == 1
    assert restored["note"] == "restore of version 1" and "doc" not in restored["before"]


def test_list_changes_write_events_in_parts_and_refusals_none(redis_client, keys) -> None:
    lists = ListStore(redis_client, keys, clock=lambda: CLOCK_S, max_entries=5_000)
    n = LIST_PART_ENTRIES * 2 + 1
    lists.put("big", [EntryIn(f"v{i}", None, "n") for i in range(n)], "admin", "import")
    with pytest.raises(ListTooLarge):
        lists.add("big", [EntryIn(f"w{i}", None, "") for i in range(5_000)], "admin")
    with pytest.raises(InvalidAction):
        lists.put("Bad Name", [], "admin")
    events = [e for e in outbox(redis_client, keys) if e["kind"] == "list.changed"]
    assert [(e["after"]["part"], e["after"]["parts"]) for e in events] == [(0, 3), (1, 3), (2, 3)]
    assert sum(len(e["after"]["entries"]) for e in events) == n
    assert events[0]["after"]["entries"][0] == ["v0", None, "n"] and events[0]["note"] == "import"


def test_relay_publishes_in_order_with_ids_and_keeps_non_events_aside(
    redis_client, keys, kafka_bootstrap
) -> None:
    topic = unique("t-alert-events")
    ensure_topics(kafka_bootstrap, {topic: 1})
    aid = put_alert(redis_client, keys, make_alert(4))
    wf = AlertWorkflow(redis_client, keys, clock=lambda: CLOCK_S)
    wf.act(aid, "acknowledge", "ana", 1)
    redis_client.xadd(keys.events_outbox, {"e": b"not an event"})
    wf.act(aid, "assign_to_me", "bob", 2)
    listed: Any = redis_client.xrange(keys.events_outbox)
    ids = [i.decode() for i, _ in listed]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", bootstrap_timeout_ms=5_000)
    try:
        sent = Relay(redis_client, keys, producer, topic).step()
    finally:
        producer.close()
    assert (sent.published, sent.invalid, sent.last_id) == (2, 1, ids[2])
    assert redis_client.xlen(keys.events_outbox) == 0
    dead: Any = redis_client.xrange(keys.events_dead)
    assert [(f[b"e"], f[b"id"].decode()) for _, f in dead] == [(b"not an event", ids[1])]
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, bootstrap_timeout_ms=5_000
    )
    try:
        records = list(read_topic(consumer, topic))
    finally:
        consumer.close()
    events = [decode_event(r.value) for r in records]
    assert [e.event_id for e in events] == [ids[0], ids[2]]
    assert [e.kind for e in events] == ["alert.acknowledged", "alert.assigned"]
    assert redis_client.hget(keys.events_relay, "published") == b"2"


def test_relay_deletes_nothing_when_kafka_does_not_take_the_events(
    redis_client, keys, kafka_bootstrap
) -> None:
    """A topic that does not exist (the test broker creates none on demand) stands in for an
    unreachable Kafka: the send fails, the outbox keeps every entry, a later round publishes them."""
    aid = put_alert(redis_client, keys, make_alert(5))
    AlertWorkflow(redis_client, keys, clock=lambda: CLOCK_S).act(aid, "acknowledge", "ana", 1)
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", max_block_ms=1_000, bootstrap_timeout_ms=5_000
    )
    try:
        with pytest.raises(KafkaError):
            Relay(redis_client, keys, producer, unique("t-missing")).step()
        assert redis_client.xlen(keys.events_outbox) == 1
        topic = unique("t-alert-events")
        ensure_topics(kafka_bootstrap, {topic: 1})
        assert Relay(redis_client, keys, producer, topic).step().published == 1
    finally:
        producer.close()
    assert redis_client.xlen(keys.events_outbox) == 0
