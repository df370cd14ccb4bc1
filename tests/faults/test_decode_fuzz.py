"""Property-based fuzz of common.schema.decode_event: a Transaction or InvalidEvent, nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from common.schema import CHANNELS, MAX_AMOUNT, InvalidEvent, Transaction, decode_event, encode_event

# Pure tests (no I/O): they run in `make test-fast` too.
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# valid text is printable (common.schema dead-letters control and invisible characters)
printable = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")) | st.just(" ")
ids = st.text(printable, min_size=1, max_size=64)
tz = st.builds(timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m)))
timestamps = st.builds(
    lambda dt, ms, zone: dt.replace(microsecond=ms * 1000, tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1)),
    st.integers(0, 999),
    tz,
)
coords = st.one_of(
    st.just((None, None)),
    st.tuples(st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False)),
)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    """Arbitrary valid schema-v1 events (any unicode in free-text fields)."""
    lat, lon = draw(coords)
    return Transaction(
        txn_id=draw(ids),
        ts=draw(timestamps),
        card_id=draw(ids),
        account_id=draw(ids),
        amount=draw(st.floats(min_value=0, max_value=MAX_AMOUNT, exclude_min=True, allow_nan=False)),
        currency=draw(st.from_regex(r"[A-Z]{3}", fullmatch=True)),
        merchant_id=draw(ids),
        merchant_category=draw(st.text(printable, min_size=1, max_size=64)),
        city=draw(st.text(printable, min_size=1, max_size=100)),
        country=draw(st.none() | st.from_regex(r"[A-Z]{2}", fullmatch=True)),
        lat=lat,
        lon=lon,
        channel=draw(st.sampled_from(CHANNELS)),
    )


leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_like = st.recursive(
    leaves,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=5),
    max_leaves=25,
)
FIELDS = list(Transaction.__struct_fields__)


def decodes_or_rejects(raw: bytes | None) -> Transaction | None:
    """The property: decode_event returns a Transaction or raises InvalidEvent, nothing else."""
    try:
        event = decode_event(raw)
    except InvalidEvent as exc:
        assert str(exc), "InvalidEvent without a reason"
        return None
    assert isinstance(event, Transaction)
    return event


@FUZZ
@given(st.binary(max_size=4096))
@example(b'{"txn_id":"\xc3\x28"}')  # invalid UTF-8 inside a JSON string
@example(b"[" * 100_000)
@example(b'{"a":' * 100_000)
@example(None)
def test_arbitrary_bytes(raw: bytes | None) -> None:
    decodes_or_rejects(raw)


@FUZZ
@given(json_like)
def test_arbitrary_json_documents(doc: Any) -> None:
    decodes_or_rejects(json.dumps(doc).encode())  # json.dumps writes NaN/Infinity literals too


@FUZZ
@given(transactions(), st.sampled_from(FIELDS), json_like)
def test_event_with_one_field_replaced(event: Transaction, field: str, value: Any) -> None:
    body = msgspec.to_builtins(event)
    body[field] = value
    decodes_or_rejects(json.dumps(body).encode())


@FUZZ
@given(transactions(), st.integers(min_value=0), st.binary(min_size=1, max_size=4))
def test_corrupted_bytes_of_a_valid_event(event: Transaction, at: int, junk: bytes) -> None:
    raw = encode_event(event)
    at %= len(raw)
    decodes_or_rejects(raw[:at] + junk + raw[at + 1 :])


@FUZZ
@given(transactions())
def test_valid_events_round_trip(event: Transaction) -> None:
    again = decodes_or_rejects(encode_event(event))
    assert again == event
    assert again is not None and again.ts.utcoffset() == timedelta(0)
