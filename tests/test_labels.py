"""The labels contract (pure): round trip, clear errors on bad bytes, stable ids; the label a
resolution implies; the producer's delayed labels held until their event time."""

from __future__ import annotations

from typing import Any

import pytest

from common.alert_events import ACKNOWLEDGED, RESOLVED, AlertEvent, make_event, with_id
from common.labels import (
    ANALYST,
    CHARGEBACK,
    FRAUD,
    GROUND_TRUTH,
    LEGITIMATE,
    InvalidLabel,
    Label,
    current_labels,
    decode_label,
    label_id_for,
    label_record,
    make_label,
)
from dashapp.store.alert_rows import row_from_alert
from dashapp.store.outbox_events import workflow_event
from outbox.labels import analyst_label
from producer import generate
from producer.labels import DelayedLabels
from tests.test_store_fixtures import make_alert

START = "2026-03-01T12:00:00Z"


def _label(**over: Any) -> Label:
    fields: dict[str, Any] = {
        "txn_id": "t-1", "card_id": "C0001", "label": FRAUD, "source": CHARGEBACK,
        "label_ms": 1_790_604_800_000, "txn_ms": 1_790_000_000_000,
    }  # fmt: skip
    return make_label(**{**fields, **over})


def test_round_trip_keeps_every_field_and_keys_by_card() -> None:
    label = _label(ref="1790-0")
    key, value, headers = label_record(label)
    back = decode_label(value)
    assert back == label and back.schema_version == 1
    assert key == b"C0001"
    assert dict(headers) == {"label_id": back.label_id.encode(), "source": b"chargeback"}


def test_label_id_is_stable_and_tells_source_txn_and_ref_apart() -> None:
    a = _label()
    assert a.label_id == _label(label_ms=5, card_id="other").label_id == label_id_for(CHARGEBACK, "t-1")
    ids = {
        a.label_id,
        _label(source=ANALYST).label_id,
        _label(txn_id="t-2").label_id,
        _label(ref="1-0").label_id,
        _label(ref="2-0").label_id,
    }
    assert len(ids) == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"not json", "label:"),
        (b"[]", "label:"),
        (b'{"txn_id": "t"}', "label:"),  # required fields missing
        (b"[" * 100_000, "label:"),
        (
            b'{"label_id":"x","txn_id":"t","card_id":"c","label":"maybe","source":"analyst","label_ms":1}',
            "label:",
        ),
        (
            b'{"label_id":"x","txn_id":"t","card_id":"c","label":"fraud","source":"rumour","label_ms":1}',
            "label:",
        ),
        (
            b'{"label_id":"x","txn_id":"t","card_id":"c","label":"fraud","source":"analyst","label_ms":1,'
            b'"schema_version":2}',
            "schema_version 2",
        ),
        (
            b'{"label_id":"x","txn_id":"t","card_id":"c","label":"fraud","source":"analyst","label_ms":1}',
            "does not match",
        ),
        (
            b'{"label_id":"x","txn_id":"","card_id":"c","label":"fraud","source":"analyst","label_ms":1}',
            "must not be empty",
        ),
        (None, "no value"),  # a tombstone record
    ],
)
def test_bad_bytes_raise_a_clear_error(value: bytes | None, message: str) -> None:
    with pytest.raises(InvalidLabel, match=message):
        decode_label(value)


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"txn_id": ""}, "must not be empty"),
        ({"label": "maybe"}, "unknown label"),
        ({"source": "x"}, "unknown source"),
    ],
)
def test_bad_fields_are_refused_when_built(over: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidLabel, match=message):
        _label(**over)


def _resolution(action: str, event_id: str) -> AlertEvent:
    alert = make_alert(3)
    old = row_from_alert(alert, status="assigned", version=2, assignee="ana")
    new = row_from_alert(alert, status="resolved_x", version=3, assignee="ana", updated_at=1_790_000_100_000)
    return with_id(workflow_event(old, new, action, "note"), event_id)


@pytest.mark.parametrize(
    ("action", "label"), [("resolve_fraud", FRAUD), ("resolve_false_positive", LEGITIMATE)]
)
def test_a_resolution_becomes_an_analyst_label(action: str, label: str) -> None:
    event = _resolution(action, "1790000100000-0")
    got = analyst_label(event)
    alert = make_alert(3)
    assert got is not None
    assert (got.txn_id, got.card_id, got.label, got.source) == (alert.txn_id, alert.card_id, label, ANALYST)
    assert (got.label_ms, got.txn_ms, got.ref) == (1_790_000_100_000, alert.event_ms, "1790000100000-0")
    # a relay re-send carries the same event id: the same label id; a later resolution another one
    again, later = analyst_label(event), analyst_label(_resolution(action, "1790000200000-0"))
    assert again is not None and later is not None
    assert again.label_id == got.label_id and later.label_id != got.label_id


def test_other_events_give_no_label_and_an_old_resolution_a_clear_error() -> None:
    assert analyst_label(make_event(ACKNOWLEDGED, at_ms=1, actor="a", subject="s")) is None
    old = make_event(RESOLVED, at_ms=1, actor="a", subject="s", after={"disposition": "fraud"})
    with pytest.raises(InvalidLabel, match="no txn_id"):
        analyst_label(old)
    odd = make_event(RESOLVED, at_ms=1, actor="a", subject="s", after={"disposition": "maybe"})
    with pytest.raises(InvalidLabel, match="disposition"):
        analyst_label(odd)


def test_delayed_labels_wait_for_the_clock_and_come_out_in_time_order() -> None:
    events = generate(seed=3, count=4_000, start=START, fraud_ratio=0.05)
    fraud = [ev for ev in events if ev.is_fraud]
    assert len(fraud) > 20
    pending = DelayedLabels(60_000)
    pending.add(events)
    assert len(pending) == len(fraud)
    first = fraud[0].ts_ms + 60_000
    assert pending.due(first - 1) == []
    out = pending.due(events[-1].ts_ms + 60_000)
    assert [lb.txn_id for lb in out] == [ev.event.txn_id for ev in fraud]
    assert all(lb.label_ms == lb.txn_ms + 60_000 for lb in out)
    assert {(lb.label, lb.source) for lb in out} == {(FRAUD, CHARGEBACK)}
    assert [lb.card_id for lb in out] == [ev.card_id for ev in fraud] and len(pending) == 0


def test_legitimate_labels_only_when_asked_and_the_cap_drops_and_counts() -> None:
    events = generate(seed=4, count=500, start=START, fraud_ratio=0.05)
    both = DelayedLabels(0, legitimate=True)
    both.add(events)
    out = both.due(events[-1].ts_ms)
    assert len(out) == len(events)
    legit = {lb.txn_id for lb in out if (lb.label, lb.source) == (LEGITIMATE, GROUND_TRUTH)}
    assert legit == {ev.event.txn_id for ev in events if not ev.is_fraud}
    capped = DelayedLabels(0, legitimate=True, max_pending=100)
    capped.add(events)
    assert len(capped) == 100 and capped.dropped == 400
    with pytest.raises(ValueError, match="delay"):
        DelayedLabels(-1)


def test_the_standing_verdict_ignores_duplicates_read_order_and_labels_not_yet_known() -> None:
    first = _label(source=ANALYST, ref="1-0", label_ms=1_000)
    later = _label(source=ANALYST, ref="2-0", label=LEGITIMATE, label_ms=2_000)
    chargeback = _label(label_ms=5_000)
    other = _label(txn_id="t-2", label_ms=500)
    read = [later, first, chargeback, later, other, first]  # duplicates, out of order
    for order in (read, read[::-1]):
        standing = current_labels(order)
        assert standing == {
            ("t-1", ANALYST): later,
            ("t-1", CHARGEBACK): chargeback,
            ("t-2", CHARGEBACK): other,
        }
    assert current_labels(read, known_at_ms=1_500) == {("t-1", ANALYST): first, ("t-2", CHARGEBACK): other}
    assert current_labels(read, known_at_ms=499) == {}
