"""Events the notifier delivers, built from Kafka records, and which endpoints they match (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec

from common.alert_events import RESOLVED, decode_event
from common.alert_topic import decode_alert_record
from common.alerts import SEVERITIES
from common.webhooks import ALERT_RAISED, Endpoint


@dataclass(frozen=True)
class Event:
    """One deliverable event: its stable id (receivers dedupe on it), kind and JSON data."""

    id: str
    kind: str
    severity: str
    rules: tuple[str, ...]
    data: dict[str, Any] = field(hash=False)
    at_ms: int = 0


def event_dict(event: Event) -> dict[str, Any]:
    """The event as JSON-ready data (kept in a dead letter, so it can be replayed)."""
    return {**asdict(event), "rules": list(event.rules)}


def event_from_dict(data: Any) -> Event:
    """An event kept by event_dict(); ValueError when `data` is not one."""
    try:
        return Event(
            id=str(data["id"]),
            kind=str(data["kind"]),
            severity=str(data["severity"]),
            rules=tuple(str(r) for r in data["rules"]),
            data=dict(data["data"]),
            at_ms=int(data["at_ms"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a kept event: {exc}") from exc


def alert_event(value: bytes) -> Event:
    """The `alert.raised` event of an alerts-topic value; InvalidAlert on bytes that are not one."""
    alert = decode_alert_record(value)
    return Event(
        id=alert.alert_id,
        kind=ALERT_RAISED,
        severity=alert.severity,
        rules=tuple(dict.fromkeys(r.rule for r in alert.reasons)),
        data=msgspec.to_builtins(alert),
        at_ms=alert.event_ms,
    )


def resolution_event(value: bytes) -> Event | None:
    """The `alert.resolved` event of an alert-events value (None: another kind, not delivered);
    InvalidAlertEvent on bytes that are not an event. Its id is the relay's event id."""
    change = decode_event(value)
    if change.kind != RESOLVED:
        return None
    return Event(
        id=change.event_id or f"{change.subject}@{change.at_ms}",
        kind=RESOLVED,
        severity="",
        rules=(),
        data=msgspec.to_builtins(change),
        at_ms=change.at_ms,
    )


def matches(endpoint: Endpoint, event: Event) -> bool:
    """Whether `endpoint` subscribes to `event`: enabled and the kind; for alerts also the minimum
    severity and the rules (a resolution carries neither: every one goes to its subscribers)."""
    if not endpoint.enabled or event.kind not in endpoint.events:
        return False
    if event.kind != ALERT_RAISED:
        return True
    if SEVERITIES.index(event.severity) < SEVERITIES.index(endpoint.min_severity):
        return False
    return not endpoint.rules or any(r in endpoint.rules for r in event.rules)
