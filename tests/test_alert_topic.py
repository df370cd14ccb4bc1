"""The alerts-topic record: key, versioned value and headers round-trip; other versions are refused."""

from __future__ import annotations

import json

import pytest

from common.alert_topic import ALERT_MESSAGE_SCHEMA, alert_record, decode_alert_record
from common.alerts import Alert, InvalidAlert
from tests.notifier_receiver import make_alert


def _alert() -> Alert:
    return make_alert(1)


def test_record_round_trips_with_card_key_and_headers() -> None:
    alert = _alert()
    key, value, headers = alert_record(alert)
    assert key == b"C-1"
    assert dict(headers) == {"alert_id": b"a00001", "severity": b"high"}
    assert json.loads(value)["schema_version"] == ALERT_MESSAGE_SCHEMA
    assert decode_alert_record(value) == alert


@pytest.mark.parametrize(
    "value",
    [b"", b"[]", b'{"schema_version": 2, "alert_id": "a"}', b'{"schema_version": 1}', b"\xff"],
)
def test_anything_else_is_refused_with_a_clear_error(value: bytes) -> None:
    with pytest.raises(InvalidAlert, match="alert record"):
        decode_alert_record(value)
