"""The alert JSON contract the bridge writes and the dashboard reads."""

from __future__ import annotations

import msgspec
import pytest

from common.alerts import SEVERITIES, Alert, InvalidAlert, Reason, alert_id_for, decode_alert, encode_alert

ALERT = Alert(
    alert_id=alert_id_for("t1"),
    txn_id="t1",
    ts="2026-11-29T12:00:00.000Z",
    event_ms=1795953600000,
    card_id="C1",
    account_id="A1",
    amount=7250.0,
    currency="USD",
    merchant_id="M1",
    merchant_category="jewelry",
    city="Paris",
    country="FR",
    lat=48.8566,
    lon=2.3522,
    channel="pos",
    score=0.745,
    severity="medium",
    rules_version=3,
    reasons=(
        Reason("high_amount", 7250.0, 5000.0, "amount $7,250.00 above limit $5,000.00"),
        Reason("unknown_location", "UNKNOWN_IP_ADDR", "known location", "location unknown"),
    ),
)


def test_round_trip() -> None:
    assert decode_alert(encode_alert(ALERT)) == ALERT


def test_json_field_names_are_the_contract() -> None:
    body = msgspec.json.decode(encode_alert(ALERT))
    assert list(body) == [
        "alert_id",
        "txn_id",
        "ts",
        "event_ms",
        "card_id",
        "account_id",
        "amount",
        "currency",
        "merchant_id",
        "merchant_category",
        "city",
        "country",
        "lat",
        "lon",
        "channel",
        "score",
        "severity",
        "reasons",
        "rules_version",
    ]
    assert body["reasons"][0] == {
        "rule": "high_amount",
        "observed": 7250.0,
        "limit": 5000.0,
        "text": "amount $7,250.00 above limit $5,000.00",
    }


def test_alert_id_is_deterministic_short_hex_and_per_transaction() -> None:
    assert alert_id_for("t1") == alert_id_for("t1")
    assert alert_id_for("t1") != alert_id_for("t2")
    assert len(alert_id_for("t1")) == 20 and int(alert_id_for("t1"), 16) >= 0


def test_severities_are_ordered() -> None:
    assert SEVERITIES == ("low", "medium", "high")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"alert_id": 1}',
        encode_alert(ALERT).replace(b'"medium"', b'"urgent"'),
        encode_alert(ALERT).replace(b'"reasons":[', b'"reasons":[1,'),
    ],
)
def test_garbage_raises_invalid_alert(raw: bytes) -> None:
    with pytest.raises(InvalidAlert):
        decode_alert(raw)
