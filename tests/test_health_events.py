"""The health panel's alert-events block: the outbox backlog, the relay's progress, webhook counters."""

from __future__ import annotations

import time

import pytest
import redis
from kafka import KafkaProducer

from common.alert_events import ACKNOWLEDGED, make_event
from common.keys import RedisKeys
from common.webhook_log import Delivery, DeliveryLog
from dashapp.store.events_health import BACKLOG_WARN, EventsHealth, events_warning
from dashapp.store.health import read_health
from dashapp.store.outbox_events import xadd
from dashapp.views.health import events_block, events_rows
from infra.kafka_topics import ensure_topics
from outbox.relay import Relay
from tests.conftest import unique

MIN_S = 60.0


# --- pure: the warning and the rows -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("waiting", "oldest", "relay", "warning"),
    [
        (0, None, None, ""),  # nothing ever written
        (0, None, 86_400.0, ""),  # an idle relay with nothing to send is fine, however long ago
        (3, 0.4, 0.2, ""),  # a running relay: entries wait a poll
        (3, 2.0, None, "Outbox backlog: the relay has not published anything yet."),
        (
            3,
            5 * MIN_S,
            7 * MIN_S,
            "Outbox backlog: the relay last published 7 min ago; the oldest event has waited 5 min.",
        ),
        (BACKLOG_WARN, 3.0, 1.0, f"Outbox backlog: {BACKLOG_WARN:,} events are waiting."),
        (50, 3 * 3600.0, 5.0, "Outbox backlog: the oldest event has waited 3.0 h."),  # moving, far behind
    ],
)
def test_warning_when_the_backlog_grows_or_the_relay_stops(
    waiting: int, oldest: float | None, relay: float | None, warning: str
) -> None:
    assert events_warning(waiting, oldest, relay) == warning


def test_rows_and_warning_state() -> None:
    ok = EventsHealth(published=1_234, relay_age_s=2.5, webhooks_delivered=7, webhooks_dead=2)
    rows = dict(events_rows(ok))
    assert rows["waiting in the outbox"] == "0"
    assert rows["oldest waiting"] == "\u2013"
    assert rows["relay last published"] == "2 s ago"
    assert rows["published to Kafka"] == "1,234"
    assert (rows["webhooks delivered"], rows["webhook dead letters"]) == ("7", "2")
    assert "Relay keeping up." in str(events_block(ok))
    late = EventsHealth(waiting=12, oldest_age_s=600.0, warning="Outbox backlog: x.")
    assert dict(events_rows(late))["relay last published"] == "never"
    assert dict(events_rows(late))["oldest waiting"] == "10 min"
    block = events_block(late)
    assert block.to_plotly_json()["props"]["className"] == "health-warn"
    assert "Outbox backlog: x." in str(block)


# --- real Redis (and Kafka for the real relay) ------------------------------------------------------
def _event_at(keys: RedisKeys, client: redis.Redis, at_ms: int, n: int) -> None:
    """`n` outbox entries committed at `at_ms`, as the stores write them (only the id's time differs)."""
    for i in range(n):
        event = make_event(ACKNOWLEDGED, at_ms=at_ms, actor="ana", subject=f"a{i}")
        command = list(xadd(keys, event))
        command[2] = f"{at_ms}-{i}"  # the stream id the entry would have had then
        client.execute_command(*command)


@pytest.mark.integration
def test_empty_namespace_reads_as_all_quiet(redis_client: redis.Redis, keys: RedisKeys) -> None:
    assert read_health(redis_client, keys, int(time.time() * 1000)).events == EventsHealth()


@pytest.mark.integration
def test_backlog_warns_until_the_real_relay_publishes_it(
    redis_client: redis.Redis, keys: RedisKeys, kafka_bootstrap: str
) -> None:
    now_ms = int(time.time() * 1000)
    _event_at(keys, redis_client, now_ms - 5 * 60_000, 3)  # the relay has been down 5 minutes
    before = read_health(redis_client, keys, now_ms).events
    assert (before.waiting, before.oldest_age_s, before.relay_age_s) == (3, 300.0, None)
    assert before.warning == (
        "Outbox backlog: the relay has not published anything yet; the oldest event has waited 5 min."
    )
    topic = unique("t-alert-events")
    ensure_topics(kafka_bootstrap, {topic: 1})
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", bootstrap_timeout_ms=5_000)
    try:
        assert Relay(redis_client, keys, producer, topic).step().published == 3
    finally:
        producer.close()
    done_ms = int(time.time() * 1000)
    after = read_health(redis_client, keys, done_ms).events
    assert (after.waiting, after.oldest_age_s, after.published, after.warning) == (0, None, 3, "")
    assert after.relay_age_s is not None
    # two minutes on, the relay has stopped and a new change waits: the panel says both
    _event_at(keys, redis_client, done_ms + 1, 1)
    stalled = read_health(redis_client, keys, done_ms + 120_000).events
    assert stalled.waiting == 1
    assert stalled.warning.startswith("Outbox backlog: the relay last published 2 min ago;")


@pytest.mark.integration
def test_webhook_counters_come_from_the_notifiers_log(redis_client: redis.Redis, keys: RedisKeys) -> None:
    log = DeliveryLog(redis_client, keys)
    delivery = Delivery("ep1", "Case system", "1-0", ACKNOWLEDGED, first_ms=1, last_ms=1)
    log.record(delivery, delivered=True)
    log.record(delivery, failed_attempt=True)
    log.record(delivery, failed_attempt=True)
    log.dead_letter(delivery, b"{}")
    events = read_health(redis_client, keys, int(time.time() * 1000)).events
    assert (events.webhooks_delivered, events.webhooks_dead, events.webhooks_failed_attempts) == (1, 1, 2)


@pytest.mark.integration
def test_keys_of_the_wrong_type_never_break_the_panel(redis_client: redis.Redis, keys: RedisKeys) -> None:
    redis_client.set(keys.events_outbox, "not a stream")
    redis_client.set(keys.events_relay, "not a hash")
    redis_client.hset(keys.webhook_stats, mapping={"delivered": "many"})
    health = read_health(redis_client, keys, int(time.time() * 1000))
    assert health.events == EventsHealth()
    assert health.freshness == "dead"  # the rest of the panel is read as before
