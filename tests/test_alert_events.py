"""The alert-events contract: encode/decode round trip, clear errors on bad bytes, record keys."""

from __future__ import annotations

import pytest

from common.alert_events import (
    ACTION_KINDS,
    KINDS,
    LIST_CHANGED,
    RESOLVED,
    RULES_PUBLISHED,
    InvalidAlertEvent,
    decode_event,
    encode_event,
    iso_ms,
    make_event,
    record_key,
    with_id,
)


def test_round_trip_keeps_every_field() -> None:
    event = make_event(
        RESOLVED, at_ms=1_764_977_000_123, actor="ana", subject="a-1",
        before={"status": "assigned", "version": 3},
        after={"status": "resolved_fraud", "disposition": "fraud"},
        note="card blocked",
    )  # fmt: skip
    published = with_id(event, "1764977000123-0")
    back = decode_event(encode_event(published))
    assert back == published
    assert back.at == "2025-12-05T23:23:20.123Z"
    assert back.event_id == "1764977000123-0" and back.schema_version == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"not json", "alert event:"),
        (b"[]", "alert event:"),
        (b'{"kind": "alert.resolved"}', "alert event:"),  # required fields missing
        (b'{"kind":"x.y","at":"","at_ms":1,"actor":"a","subject":"s"}', "unknown kind"),
        (
            b'{"kind":"alert.resolved","at":"","at_ms":1,"actor":"a","subject":"s","schema_version":2}',
            "schema_version 2",
        ),
        (b"[" * 100_000, "alert event:"),
    ],
)
def test_bad_bytes_raise_a_clear_error(value: bytes, message: str) -> None:
    with pytest.raises(InvalidAlertEvent, match=message):
        decode_event(value)


def test_unknown_kind_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="unknown alert event kind"):
        make_event("alert.deleted", at_ms=0, actor="a", subject="s")


def test_record_keys_group_by_subject() -> None:
    assert record_key(make_event(RESOLVED, at_ms=0, actor="a", subject="a-9")) == b"a-9"
    assert record_key(make_event(RULES_PUBLISHED, at_ms=0, actor="a", subject="7")) == b"rules"
    assert record_key(make_event(LIST_CHANGED, at_ms=0, actor="a", subject="deny")) == b"list:deny"


def test_every_workflow_action_has_a_kind() -> None:
    assert set(ACTION_KINDS.values()) <= set(KINDS)
    assert iso_ms(5) == "1970-01-01T00:00:00.005Z"
