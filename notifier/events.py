"""Events the notifier delivers, built from Kafka records, and which endpoints they match (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

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


def matches(endpoint: Endpoint, event: Event) -> bool:
    """Whether `endpoint` subscribes to `event` (enabled, kind, minimum severity and rules)."""
    if not endpoint.enabled or event.kind not in endpoint.events:
        return False
    if event.severity and SEVERITIES.index(event.severity) < SEVERITIES.index(endpoint.min_severity):
        return False
    return not endpoint.rules or any(r in endpoint.rules for r in event.rules)
