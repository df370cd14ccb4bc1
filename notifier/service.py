"""The notifier's loop: read alerts, match endpoints, hand deliveries to senders, commit what is done."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from common.alert_events import InvalidAlertEvent
from common.alerts import InvalidAlert
from common.webhook_log import DeliveryLog
from common.webhooks import Endpoint, EndpointStore
from notifier.events import Event, alert_event, matches, resolution_event
from notifier.replay import Replays
from notifier.sender import Dispatcher, Job
from notifier.tracker import OffsetTracker

logger = logging.getLogger(__name__)
POLL_MS = 200
POLL_RECORDS = 500
# Up to ~0.2 s without partitions is normal at start (the group leader assigns before its first
# metadata of the topics, then rejoins). kafka-python has been seen to stay there for minutes
# under load (the rejoin on new metadata never came): after UNASSIGNED_REJOIN_S, if the topics do
# have partitions, the member leaves and joins the group again, at most once per
# REJOIN_COOLDOWN_S (a member idle because the group has more notifiers than partitions would
# otherwise move the partitions around every few seconds); after UNASSIGNED_WARN_S it says that
# nothing is being delivered from here.
UNASSIGNED_REJOIN_S = 5.0
REJOIN_COOLDOWN_S = 300.0
UNASSIGNED_WARN_S = 30.0


class Endpoints:
    """The endpoints in force: the dashboard's (reloaded from Redis) merged with the file's."""

    def __init__(self, store: EndpointStore, file_endpoints: list[Endpoint]) -> None:
        self._store, self._file = store, file_endpoints
        self._by_id: dict[str, Endpoint] = {e.id: e for e in file_endpoints}

    def reload(self) -> None:
        """Swap in the current set (readers on other threads see the old or the new dict, whole)."""
        self._by_id = {**{e.id: e for e in self._store.all()}, **{e.id: e for e in self._file}}

    def get(self, endpoint_id: str) -> Endpoint | None:
        return self._by_id.get(endpoint_id)

    def matching(self, event: Event) -> list[Endpoint]:
        return [e for e in self._by_id.values() if matches(e, event)]


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, on_revoked: Callable[[list[TopicPartition]], None]) -> None:
        self._on_revoked = on_revoked

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self._on_revoked(list(revoked))

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # Two topics (alerts, alert-events): name each partition's topic or the list reads "0, 0, 1, 2".
        logger.info("notifier: assigned partitions=%s", sorted(f"{p.topic}:{p.partition}" for p in assigned))


class Notifier:
    """One consumer-group member; run() until `stop` is set, then commit what is done and return."""

    def __init__(
        self,
        consumer: KafkaConsumer,
        topics: list[str],
        endpoints: Endpoints,
        dispatcher: Dispatcher,
        log: DeliveryLog,
        *,
        max_pending: int,
        refresh_s: float,
        commit_interval_s: float,
        heartbeat_file: str = "",
        replays: Replays | None = None,
    ) -> None:
        self.consumer, self.endpoints, self.dispatcher, self.log = consumer, endpoints, dispatcher, log
        self._replays = replays
        self.tracker = OffsetTracker()
        self._max_pending, self._refresh_s, self._commit_s = max_pending, refresh_s, commit_interval_s
        self._paused = False
        self._unassigned_since: float | None = None
        self._last_rejoin = float("-inf")
        self._warned = False
        self._topics = list(topics)
        self._heartbeat = Path(heartbeat_file) if heartbeat_file else None
        self._alerts_topic = topics[0]  # the others carry workflow events
        self._subscribe()

    def _subscribe(self) -> None:
        self.consumer.subscribe(self._topics, listener=_Rebalance(self._revoked))

    def _revoked(self, partitions: list[TopicPartition]) -> None:
        # An exception here would end the notifier (kafka-python re-raises it from poll()): the
        # offsets left uncommitted are only read again, and receivers dedupe on the event id.
        try:
            self.commit()
        except Exception:
            logger.exception("notifier: commit on revocation failed; those records will be read again")
        self.tracker.forget(partitions)

    def commit(self) -> None:
        """Commit each partition up to its first record with a delivery still owed."""
        ready = self.tracker.take()
        if not ready:
            return
        try:
            self.consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in ready.items()})
        except KafkaError as exc:  # e.g. a rebalance meanwhile: the next owner redelivers (receivers dedupe)
            logger.warning("notifier: commit failed error=%s", exc)
            return
        logger.debug("notifier: committed %s", ready)

    def handle(self, record: ConsumerRecord) -> None:
        """Match one record and queue its deliveries; a record that is not an alert is counted and skipped."""
        tp = TopicPartition(record.topic, record.partition)
        try:
            if record.topic == self._alerts_topic:
                event: Event | None = alert_event(record.value)
            else:
                event = resolution_event(record.value)
        except (InvalidAlert, InvalidAlertEvent) as exc:
            logger.warning(
                "notifier: invalid record topic=%s partition=%d offset=%d error=%s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            self.tracker.add(tp, record.offset, 0)  # tracked before anything that can fail
            with contextlib.suppress(redis.RedisError):  # the warning names it; a counter is not worth a stop
                self.log.count("invalid_records")
            return
        if event is None:  # a workflow event of a kind no endpoint can subscribe to
            self.tracker.add(tp, record.offset, 0)
            return
        targets = self.endpoints.matching(event)
        self.tracker.add(tp, record.offset, len(targets))
        for endpoint in targets:
            self.dispatcher.submit(Job(endpoint.id, event, lambda: self.tracker.done(tp, record.offset)))

    def _flow_control(self) -> None:
        """Pause fetching while too many records are owed (memory stays bounded), resume below half."""
        owed = self.tracker.in_flight()
        if not self._paused and owed >= self._max_pending:
            self.consumer.pause(*self.consumer.assignment())
            self._paused = True
            logger.warning("notifier: paused reading records_owed=%d", owed)
        elif self._paused and owed < self._max_pending // 2:
            self.consumer.resume(*self.consumer.paused())
            self._paused = False
            logger.info("notifier: resumed reading records_owed=%d", owed)

    def _watch_assignment(self, now: float) -> None:
        """No partition for a while although the topics have some: join again (at most once per
        REJOIN_COOLDOWN_S); none for UNASSIGNED_WARN_S: warn, once until partitions come."""
        if self.consumer.assignment():
            self._unassigned_since, self._warned = None, False
            return
        if self._unassigned_since is None:
            self._unassigned_since = now
            return
        rejoin_due = now - self._unassigned_since >= UNASSIGNED_REJOIN_S
        if rejoin_due and now - self._last_rejoin >= REJOIN_COOLDOWN_S:
            # partitions_for_topic fetches metadata for a topic it does not know yet; a topic that
            # does not exist yet is asked about again next period
            sizes = {t: len(self.consumer.partitions_for_topic(t) or ()) for t in self._topics}
            if all(sizes.values()):
                self._last_rejoin = now
                logger.info(
                    "notifier: no partition assigned although the topics have some %s; joining again", sizes
                )
                self.consumer.unsubscribe()  # leaves the group; the next poll joins with fresh metadata
                self._subscribe()
        if not self._warned and now - self._unassigned_since >= UNASSIGNED_WARN_S:
            self._warned = True
            logger.warning(
                "notifier: no partition assigned for %.0f s; nothing is delivered from this process "
                "(expected only when the group has more notifiers than partitions) topics=%s",
                now - self._unassigned_since,
                sorted(self.consumer.subscription() or ()),
            )

    def run(self, stop: threading.Event, max_records: int | None = None) -> int:
        """Loop until `stop` (or `max_records` read); return the number of records read."""
        seen, next_refresh, next_commit = 0, 0.0, time.monotonic() + self._commit_s
        try:
            while not stop.is_set() and (max_records is None or seen < max_records):
                now = time.monotonic()
                if now >= next_refresh:
                    try:
                        self.endpoints.reload()
                    except redis.RedisError as exc:  # keep the endpoints we have; try again next period
                        logger.warning("notifier: cannot reload endpoints error=%s", exc)
                    if self._replays is not None:
                        try:
                            self._replays.poll()
                        except redis.RedisError as exc:  # the queue waits in Redis; next period
                            logger.warning("notifier: cannot read replays error=%s", exc)
                    next_refresh = now + self._refresh_s
                    self._watch_assignment(now)
                    if self._heartbeat is not None:
                        self._heartbeat.touch()
                self._flow_control()
                batch = self.consumer.poll(timeout_ms=POLL_MS, max_records=POLL_RECORDS)
                for records in batch.values():
                    for record in records:
                        self.handle(record)
                        seen += 1
                if time.monotonic() >= next_commit:
                    self.commit()
                    next_commit = time.monotonic() + self._commit_s
        finally:
            self.dispatcher.close(timeout_s=30.0)
            self.commit()
        return seen
