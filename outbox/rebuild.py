"""Rebuild alerts, workflow state, rules and lists into an empty Redis from the two topics."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
import redis

from bridge.alert_writes import alert_commands
from common.alert_events import (
    ACTION_KINDS,
    DISPOSITIONS,
    LIST_CHANGED,
    RULES_RESTORED,
    AlertEvent,
    InvalidAlertEvent,
    decode_event,
)
from common.alert_topic import decode_alert_record
from common.alerts import InvalidAlert
from common.keys import RedisKeys
from common.rules_doc import decode_rules_doc, encode_rules_doc
from dashapp.store.alert_rows import ROW_FIELDS, row_from_fields
from dashapp.store.errors import StoreError
from dashapp.store.list_entries import EntryIn
from dashapp.store.lists import ListStore
from dashapp.store.rules_store import RulesStore
from dashapp.store.workflow import transition
from outbox.topic_read import Record

logger = logging.getLogger(__name__)
# (kind, disposition) -> the workflow action that made the event: the inverse of ACTION_KINDS
_ACTIONS = {(kind, DISPOSITIONS.get(action)): action for action, kind in ACTION_KINDS.items()}
_ALERT_BATCH = 500


class NotEmpty(RuntimeError):
    """The target namespace already holds keys (use --force to write over them)."""


def check_empty(client: redis.Redis, keys: RedisKeys) -> None:
    """Raise NotEmpty if any key lives under the namespace's prefix."""
    for key in client.scan_iter(match=f"{keys.prefix}*", count=1000):
        raise NotEmpty(
            f"namespace {keys.prefix!r} is not empty (e.g. {key!r:.80}); rebuild needs an empty one"
        )


def restore_alerts(
    client: redis.Redis, keys: RedisKeys, records: Iterable[Record], counts: Counter[str]
) -> None:
    """Store every alert of the alerts topic with the bridge's own commands (replays change nothing)."""
    batch: list[Any] = []
    for record in records:
        try:
            alert = decode_alert_record(record.value)
        except InvalidAlert as exc:
            logger.error("rebuild: skipped alerts record offset=%s error=%s", record.where, exc)
            counts["alerts_invalid"] += 1
            continue
        batch.extend(alert_commands(keys, [alert], record.timestamp_ms))
        counts["alerts"] += 1
        if counts["alerts"] % _ALERT_BATCH == 0:
            _execute(client, batch)
            batch = []
    _execute(client, batch)


def _execute(client: redis.Redis, commands: list[Any]) -> None:
    with client.pipeline(transaction=False) as pipe:
        for command in commands:
            pipe.execute_command(*command)
        pipe.execute()


def ordered_events(records: Iterable[Record], counts: Counter[str]) -> list[AlertEvent]:
    """Every event once (de-duplicated on event_id), in outbox order (the order of the commits)."""
    seen: dict[str, AlertEvent] = {}
    for record in records:
        try:
            event = decode_event(record.value)
            _order(event)  # an event_id that is not an outbox id cannot be placed
        except (InvalidAlertEvent, ValueError) as exc:
            logger.error("rebuild: skipped alert-events record offset=%s error=%s", record.where, exc)
            counts["events_invalid"] += 1
            continue
        if event.event_id in seen:
            counts["events_duplicate"] += 1
        seen[event.event_id] = event
    return sorted(seen.values(), key=_order)


def _order(event: AlertEvent) -> tuple[int, int]:
    ms, seq = event.event_id.split("-")
    return int(ms), int(seq)


class Replayer:
    """Apply events as the console did, with the store code and the events' own times and authors,
    but without appending to the outbox (the rebuilt state must not be published a second time)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._keys = client, keys
        self._now_ms = 0
        clock = lambda: (self._now_ms + 0.5) / 1000  # noqa: E731  (the stores truncate to ms)
        self._rules = RulesStore(client, keys, clock, outbox=False)
        self._lists = ListStore(client, keys, clock=clock, outbox=False)
        self._parts: dict[str, list[AlertEvent]] = {}
        self.counts: Counter[str] = Counter()

    def apply_all(self, events: Iterable[AlertEvent]) -> Counter[str]:
        for event in events:
            self._now_ms = event.at_ms
            try:
                if event.kind.startswith("alert."):
                    self._alert(event)
                elif event.kind.startswith("rules."):
                    self._rules_event(event)
                elif event.kind == LIST_CHANGED:
                    self._list(event)
            except (StoreError, ValueError, KeyError, TypeError, msgspec.ValidationError) as exc:
                logger.error(
                    "rebuild: event not applied id=%s kind=%s error=%s", event.event_id, event.kind, exc
                )
                self.counts["events_failed"] += 1
        for name in self._parts:
            logger.error("rebuild: list %s: an incomplete change (missing parts) was not applied", name)
            self.counts["events_failed"] += 1
        return self.counts

    def _alert(self, event: AlertEvent) -> None:
        aid = event.subject
        row = row_from_fields(aid, self._r.hmget(self._keys.alert(aid), ROW_FIELDS))
        if row is None:  # not on the alerts topic (retention) or swept: nothing to apply it to
            logger.warning("rebuild: alert %s not found for event %s", aid, event.event_id)
            self.counts["events_alert_missing"] += 1
            return
        if row.version != event.before.get("version"):
            raise ValueError(f"alert {aid} is at version {row.version}, the event expects {event.before}")
        action = _ACTIONS[(event.kind, event.after.get("disposition"))]
        _new, writes = transition(self._keys, row, action, event.actor, note=event.note, now_ms=event.at_ms)
        with self._r.pipeline(transaction=True) as pipe:
            for command in writes:
                pipe.execute_command(*command)
            pipe.execute()
        self.counts["alert_events"] += 1

    def _rules_event(self, event: AlertEvent) -> None:
        base = event.before.get("doc")
        if base is not None and not self._r.exists(self._keys.rules):
            doc = decode_rules_doc(msgspec.json.encode(base))  # the seed the first version replaced
            self._r.set(self._keys.rules, encode_rules_doc(doc))
        expected = int(event.before["version"])
        if event.kind == RULES_RESTORED:
            self._rules.restore(event.after["restored_from"], event.actor, event.note, expected)
        else:
            self._rules.publish(event.after["document"], event.actor, event.note, expected)
        self.counts["rules_events"] += 1

    def _list(self, event: AlertEvent) -> None:
        parts = [*self._parts.pop(event.subject, []), event]
        if int(event.after["part"]) < int(event.after["parts"]) - 1:
            self._parts[event.subject] = parts  # the rest follow: one MULTI wrote them consecutively
            return
        name, action, user, comment = event.subject, event.after["action"], event.actor, event.note
        entries = [EntryIn(v, exp, note) for p in parts for v, exp, note in p.after["entries"]]
        removed = [v for p in parts for v in p.after["removed"]]
        if action == "put":
            self._lists.put(name, entries, user, comment)
        elif action == "add":
            self._lists.add(name, entries, user, comment)
        elif action == "remove":
            self._lists.remove(name, removed, user, comment)
        elif action == "delete":
            self._lists.delete(name, user, comment)
        else:
            raise ValueError(f"unknown list action {action!r:.40}")
        self.counts["list_events"] += 1


def rebuild(
    client: redis.Redis,
    keys: RedisKeys,
    alerts: Iterator[Record],
    events: Iterator[Record],
    *,
    force: bool = False,
) -> Counter[str]:
    """Alerts first, then every event in commit order; return what was applied, skipped or failed."""
    if not force:
        check_empty(client, keys)
    counts: Counter[str] = Counter()
    restore_alerts(client, keys, alerts, counts)
    ordered = ordered_events(events, counts)
    replayer = Replayer(client, keys)
    counts.update(replayer.apply_all(ordered))
    logger.info("rebuild: done %s", dict(sorted(counts.items())))
    return counts
