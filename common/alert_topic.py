"""Alerts-topic contract: the Kafka record of one alert (key, versioned JSON value, headers)."""

from __future__ import annotations

import msgspec

from common.alerts import Alert, InvalidAlert, encode_alert

# Bump only with a reader that still accepts the previous version; readers refuse any other.
ALERT_MESSAGE_SCHEMA = 1
ALERT_ID_HEADER = "alert_id"
SEVERITY_HEADER = "severity"


class _Versioned(msgspec.Struct):
    schema_version: int


_version_decoder = msgspec.json.Decoder(_Versioned)
_alert_decoder = msgspec.json.Decoder(Alert)


def alert_record(alert: Alert) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Return (key, value, headers) of the alert's record: key = card id, so one card's alerts
    stay in order on one partition; value = the alert JSON with `schema_version` first."""
    body = encode_alert(alert)
    value = b'{"schema_version":%d,' % ALERT_MESSAGE_SCHEMA + body[1:]
    headers = [
        (ALERT_ID_HEADER, alert.alert_id.encode()),
        (SEVERITY_HEADER, alert.severity.encode()),
    ]
    return alert.card_id.encode(), value, headers


def decode_alert_record(value: bytes | str) -> Alert:
    """Parse an alerts-topic value; raise InvalidAlert on bytes that are not a version-1 alert."""
    try:
        version = _version_decoder.decode(value).schema_version
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InvalidAlert(f"alert record: {exc}") from None
    if version != ALERT_MESSAGE_SCHEMA:
        raise InvalidAlert(
            f"alert record: schema_version {version} is not {ALERT_MESSAGE_SCHEMA} (a newer writer?)"
        )
    try:
        return _alert_decoder.decode(value)  # unknown fields (schema_version) are ignored
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InvalidAlert(f"alert record: {exc}") from None
