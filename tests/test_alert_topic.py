"""The alerts-topic record: key, versioned value and headers round-trip; other versions are refused."""

from __future__ import annotations

import json

import pytest

from common.alert_topic import ALERT_MESSAGE_SCHEMA, alert_record, decode_alert_record
from common.alerts import Alert, InvalidAlert, Reason


def _alert() -> Alert:
    return Alert(
        alert_id="a1",
        txn_id="t1",
        ts="2026-01-01T00:00:00.000Z",
        event_ms=1_767_225_600_000,
        card_id="C-1",
        account_id="A-1",
        amount=6000.0,
        currency="USD",
        merchant_id="M-1",
        merchant_category="electronics",
        city="Oslo",
        country="NO",
        lat=59.9,
        lon=10.7,
        channel="online",
        score=0.9,
        severity="high",
        reasons=(Reason(rule="high_amount", observed=6000.0, limit=5000.0, text="amount high"),),
        rules_version=3,
    )


def test_record_round_trips_with_card_key_and_headers() -> None:
    alert = _alert()
    key, value, headers = alert_record(alert)
    assert key == b"C-1"
    assert dict(headers) == {"alert_id": b"a1", "severity": b"high"}
    assert json.loads(value)["schema_version"] == ALERT_MESSAGE_SCHEMA
    assert decode_alert_record(value) == alert


@pytest.mark.parametrize(
    "value",
    [b"", b"[]", b'{"schema_version": 2, "alert_id": "a"}', b'{"schema_version": 1}', b"\xff"],
)
def test_anything_else_is_refused_with_a_clear_error(value: bytes) -> None:
    with pytest.raises(InvalidAlert, match="alert record"):
        decode_alert_record(value)
