"""Alert-events contract: one workflow or configuration change as a versioned Kafka record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

# Bump only with a reader that still accepts the previous version; readers refuse any other.
ALERT_EVENT_SCHEMA = 1

ACKNOWLEDGED = "alert.acknowledged"
ASSIGNED = "alert.assigned"
RESOLVED = "alert.resolved"  # after["disposition"] is "fraud" or "false_positive"
REOPENED = "alert.reopened"
RULES_PUBLISHED = "rules.published"  # a whole document published, or the threshold editor's change
RULES_RESTORED = "rules.restored"  # an earlier version published again (after["restored_from"])
LIST_CHANGED = "list.changed"  # after["action"]: put | add | remove | delete
SHADOW_CHANGED = "shadow.changed"  # the shadow rule set: after["action"]: published | dropped | promoted
MODEL_CHANGED = "model.changed"  # the model registry: after["action"]: registered | state | rollback
OUTBOX_FIELD = "e"  # the outbox stream entry's one field: the event JSON (RedisKeys.events_outbox)
KINDS = (
    ACKNOWLEDGED,
    ASSIGNED,
    RESOLVED,
    REOPENED,
    RULES_PUBLISHED,
    RULES_RESTORED,
    LIST_CHANGED,
    SHADOW_CHANGED,
    MODEL_CHANGED,
)

# The console's workflow actions (dashapp/store/workflow.py) and the event each one is.
ACTION_KINDS = {
    "acknowledge": ACKNOWLEDGED,
    "assign_to_me": ASSIGNED,
    "resolve_fraud": RESOLVED,
    "resolve_false_positive": RESOLVED,
    "reopen": REOPENED,
}
DISPOSITIONS = {"resolve_fraud": "fraud", "resolve_false_positive": "false_positive"}


class InvalidAlertEvent(ValueError):
    """Bytes that are not a version-1 alert event."""


class AlertEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One change, with who made it, when, and the state before and after.

    `event_id` is the outbox stream entry id (`<ms>-<seq>`, assigned by Redis in the change's own
    transaction): stable across relay restarts, so consumers de-duplicate on it, and ordered as the
    changes were committed. `subject` is the alert id, the rules version made, or the list name.
    """

    kind: str
    at: str  # ISO-8601 UTC with milliseconds, e.g. 2026-12-05T23:41:07.123Z
    at_ms: int
    actor: str
    subject: str
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    note: str = ""
    event_id: str = ""  # set by the relay from the outbox entry id; empty inside the outbox
    schema_version: int = ALERT_EVENT_SCHEMA


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AlertEvent)


def iso_ms(at_ms: int) -> str:
    """Epoch milliseconds -> `2026-12-05T23:41:07.123Z`."""
    stamp = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at_ms % 1000:03d}Z"


def make_event(
    kind: str,
    *,
    at_ms: int,
    actor: str,
    subject: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> AlertEvent:
    """Build an event (no event_id yet: the outbox gives it one)."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert event kind {kind!r:.60}")
    return AlertEvent(
        kind=kind, at=iso_ms(at_ms), at_ms=at_ms, actor=actor, subject=subject,
        before=before or {}, after=after or {}, note=note,
    )  # fmt: skip


def encode_event(event: AlertEvent) -> bytes:
    """The event's JSON (the Kafka record value and the outbox entry's payload)."""
    return _encoder.encode(event)


def decode_event(value: bytes | str) -> AlertEvent:
    """Parse an alert-events value; raise InvalidAlertEvent on anything but a version-1 event."""
    try:
        event = _decoder.decode(value)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InvalidAlertEvent(f"alert event: {exc}") from None
    if event.schema_version != ALERT_EVENT_SCHEMA:
        raise InvalidAlertEvent(
            f"alert event: schema_version {event.schema_version} is not {ALERT_EVENT_SCHEMA} "
            "(a newer writer?)"
        )
    if event.kind not in KINDS:
        raise InvalidAlertEvent(f"alert event: unknown kind {event.kind!r:.60}")
    return event


def with_id(event: AlertEvent, event_id: str) -> AlertEvent:
    """The event as published: stamped with its outbox entry id."""
    return msgspec.structs.replace(event, event_id=event_id)


def record_key(event: AlertEvent) -> bytes:
    """The Kafka key: alert id, `rules`, `models` or `list:<name>`, so one subject's events stay in order."""
    if event.kind.startswith("alert."):
        return event.subject.encode()
    if event.kind.startswith("rules.") or event.kind == SHADOW_CHANGED:  # a promote is both: in order
        return b"rules"
    if event.kind == MODEL_CHANGED:  # every registry change in one order: a promotion retires another
        return b"models"
    return b"list:" + event.subject.encode()
