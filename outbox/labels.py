"""Analysts' labels: the label an `alert.resolved` event implies (pure; the relay publishes it)."""

from __future__ import annotations

from common.alert_events import RESOLVED, AlertEvent
from common.labels import ANALYST, DISPOSITION_LABELS, InvalidLabel, Label, make_label


def analyst_label(event: AlertEvent) -> Label | None:
    """Return the label of a published resolution, None for every other kind of event.

    Label time is the resolution's commit time; `ref` is the event's id, so a relay re-send gives
    the same label id and a resolution after a reopen a new one. Raises InvalidLabel when the
    event lacks the alert's transaction (resolutions queued before labels existed).
    """
    if event.kind != RESOLVED:
        return None
    after = event.after
    disposition, txn_id, card_id = after.get("disposition"), after.get("txn_id"), after.get("card_id")
    if disposition not in DISPOSITION_LABELS:
        raise InvalidLabel(f"label: resolution {event.event_id} has no known disposition")
    if not isinstance(txn_id, str) or not isinstance(card_id, str):
        raise InvalidLabel(f"label: resolution {event.event_id} carries no txn_id/card_id")
    txn_ms = after.get("event_ms")
    return make_label(
        txn_id=txn_id,
        card_id=card_id,
        label=DISPOSITION_LABELS[disposition],
        source=ANALYST,
        label_ms=event.at_ms,
        txn_ms=txn_ms if isinstance(txn_ms, int) else 0,
        ref=event.event_id,
    )
