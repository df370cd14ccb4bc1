"""The relay: outbox stream entries -> the alert-events topic, in order, deleted only once acknowledged."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from kafka.errors import KafkaError

from common.alert_events import (
    OUTBOX_FIELD,
    AlertEvent,
    InvalidAlertEvent,
    decode_event,
    encode_event,
    record_key,
    with_id,
)
from common.keys import RedisKeys
from common.labels import InvalidLabel, label_record
from outbox.labels import analyst_label

logger = logging.getLogger(__name__)
EVENT_ID_HEADER = "event_id"
KIND_HEADER = "kind"


class Producer(Protocol):
    """What the relay needs of kafka.KafkaProducer."""

    def send(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...


@dataclass(frozen=True)
class Sent:
    """One relay round: entries published, entries moved to the dead stream, the last id handled."""

    published: int
    invalid: int
    last_id: str
    labels: int = 0  # analysts' labels published with the events (docs/labels.md)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class Relay:
    """Publish the outbox in order; delete entries only after Kafka acknowledged them (acks=all).

    A crash between the acknowledgement and the delete publishes those entries again with the same
    `event_id` (their outbox id): at-least-once, de-duplicated by consumers. An entry that is not an
    event is moved to `events:dead` in the MULTI that deletes it, and logged: nothing is lost.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: RedisKeys,
        producer: Producer,
        topic: str,
        *,
        batch: int = 500,
        send_timeout_s: float = 30.0,
        labels_topic: str | None = None,
    ) -> None:
        self._r, self._keys, self._producer, self._topic = client, keys, producer, topic
        self._batch, self._timeout, self._labels_topic = batch, send_timeout_s, labels_topic

    def backlog(self) -> int:
        """Entries waiting in the outbox."""
        return int(self._r.xlen(self._keys.events_outbox))

    def step(self) -> Sent:
        """Publish up to `batch` of the oldest entries, wait for every acknowledgement, delete them.

        Raises KafkaError (nothing deleted) when Kafka does not acknowledge all of them.
        """
        entries: list[tuple[bytes, dict[bytes, bytes]]] = self._r.xrange(  # type: ignore[assignment]
            self._keys.events_outbox, "-", "+", count=self._batch
        )
        if not entries:
            return Sent(0, 0, "")
        futures: list[Any] = []
        bad, labels = [], 0
        for raw_id, fields in entries:
            entry_id = _text(raw_id)
            payload = fields.get(OUTBOX_FIELD.encode(), b"")
            try:
                event = with_id(decode_event(payload), entry_id)
            except InvalidAlertEvent as exc:
                logger.error("relay: outbox entry is not an event id=%s error=%s", entry_id, exc)
                bad.append((entry_id, payload))
                continue
            headers = [(EVENT_ID_HEADER, entry_id.encode()), (KIND_HEADER, event.kind.encode())]
            futures.append(self._producer.send(self._topic, encode_event(event), record_key(event), headers))
            if self._labels_topic is not None and self._send_label(self._labels_topic, event, futures):
                labels += 1
        self._producer.flush(timeout=self._timeout)
        for future in futures:
            future.get(timeout=self._timeout)  # raises the send's KafkaError: nothing is deleted
        last_id = _text(entries[-1][0])
        with self._r.pipeline(transaction=True) as pipe:
            for entry_id, payload in bad:
                pipe.xadd(self._keys.events_dead, {OUTBOX_FIELD: payload, "id": entry_id})
            pipe.xdel(self._keys.events_outbox, *[e[0] for e in entries])
            pipe.hset(self._keys.events_relay, mapping={"last_id": last_id, "at_ms": int(time.time() * 1000)})
            pipe.hincrby(self._keys.events_relay, "published", len(futures) - labels)
            if labels:
                pipe.hincrby(self._keys.events_relay, "labels", labels)
            if bad:
                pipe.hincrby(self._keys.events_relay, "invalid", len(bad))
            pipe.execute()
        return Sent(len(futures) - labels, len(bad), last_id, labels)

    def _send_label(self, topic: str, event: AlertEvent, futures: list[Any]) -> bool:
        """Queue the label a resolution implies beside its event: it is acknowledged before the
        entry is deleted, so labels get the events' at-least-once guarantee. True if one was sent."""
        try:
            label = analyst_label(event)
        except InvalidLabel as exc:  # the event itself is still published
            logger.warning("relay: no label for event id=%s error=%s", event.event_id, exc)
            return False
        if label is None:
            return False
        key, value, headers = label_record(label)
        futures.append(self._producer.send(topic, value, key, headers))
        return True

    def run(
        self,
        stop: threading.Event,
        *,
        poll_s: float = 0.2,
        backoff_max_s: float = 30.0,
        backlog_warn: int = 100_000,
        max_rounds: int | None = None,
        on_round: Callable[[Sent], None] | None = None,
    ) -> int:
        """Relay until `stop` (the current round finishes first); return the entries published.

        Kafka or Redis errors are retried with capped exponential backoff; the outbox keeps growing
        meanwhile and nothing is lost.
        """
        total, delay, rounds = 0, poll_s, 0
        while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
            rounds += 1
            try:
                sent = self.step()
            except (KafkaError, redis.RedisError) as exc:
                delay = min(backoff_max_s, max(delay * 2, 0.5))
                backlog = self._backlog_or_none()
                level = logging.WARNING if backlog is None or backlog < backlog_warn else logging.ERROR
                logger.log(
                    level, "relay: cannot publish error=%r backlog=%s retry_in_s=%.1f", exc, backlog, delay
                )
                stop.wait(delay)
                continue
            delay = poll_s
            total += sent.published
            if on_round is not None:
                on_round(sent)
            if sent.published or sent.invalid:
                logger.debug("relay: published=%d last_id=%s", sent.published, sent.last_id)
            else:
                stop.wait(poll_s)
        return total

    def _backlog_or_none(self) -> int | None:
        try:
            return self.backlog()
        except redis.RedisError:
            return None
