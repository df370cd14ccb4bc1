"""Event schema v1: the JSON body of every record on the `transactions` topic."""

from __future__ import annotations

import math
import operator
import unicodedata
from datetime import UTC, datetime
from typing import Annotated

import msgspec

SCHEMA_VERSION = 1
UNKNOWN_CITY = "UNKNOWN_IP_ADDR"  # the original demo's marker for an unresolvable location
MAX_AMOUNT = 1_000_000_000.0  # in any currency: $20,000 is ~29 million won
CHANNELS = ("pos", "online", "atm")

# Kafka header names carrying ground truth. Only the producer writes them and only the
# evaluation code reads them; detection never sees them.
HEADER_SCENARIO = "scenario"
HEADER_SCENARIO_ID = "scenario_id"
HEADER_SCENARIO_LAST = "scenario_last"  # on the last event of a fraud instance: it is finished
NORMAL_SCENARIO = "normal"
# The producer's fraud scenarios. Each label names Redis keys (eval:instances:<label>), so a
# header naming anything else counts under OTHER_SCENARIO: free text must not mint keys.
FRAUD_SCENARIOS = (
    "high_amount",
    "unknown_location",
    "high_amount_unknown_location",
    "velocity_burst",
    "impossible_travel",
    "card_testing",
    "amount_spike",
)
OTHER_SCENARIO = "other"
_LABELS = {name.encode(): name for name in (NORMAL_SCENARIO, *FRAUD_SCENARIOS)}

Id64 = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Amount = Annotated[float, msgspec.Meta(gt=0, le=MAX_AMOUNT)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
City = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Channel = Annotated[str, msgspec.Meta(pattern=r"^(pos|online|atm)$")]


class Transaction(msgspec.Struct, frozen=True, kw_only=True):
    """One card transaction (schema v1). Unknown extra fields are ignored on decode."""

    txn_id: Id64
    ts: AwareDatetime
    card_id: Id64
    account_id: Id64
    amount: Amount
    currency: Currency
    merchant_id: Id64
    merchant_category: Category
    city: City
    country: Country | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    channel: Channel


class InvalidEvent(ValueError):
    """A record that is not a valid schema-v1 event; the message is the reason for the DLQ."""


# Free-text fields shown to analysts. The others have ASCII patterns already.
TEXT_FIELDS = ("txn_id", "card_id", "account_id", "merchant_id", "merchant_category", "city")
_texts = operator.attrgetter(*TEXT_FIELDS)

_decoder = msgspec.json.Decoder(Transaction)
_encoder = msgspec.json.Encoder()


def decode_event(raw: bytes | None) -> Transaction:
    """Decode and validate one record value; raise InvalidEvent with a one-line reason."""
    if raw is None:
        raise InvalidEvent("empty record value (tombstone)")
    try:
        event = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidEvent(f"schema: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"malformed JSON: {exc}") from None
    except UnicodeDecodeError as exc:  # msgspec validates UTF-8 lazily, inside string values
        raise InvalidEvent(f"malformed JSON: invalid UTF-8 ({exc.reason})") from None
    except RecursionError:
        raise InvalidEvent("malformed JSON: nested too deeply") from None
    if (event.lat is None) != (event.lon is None):
        raise InvalidEvent("schema: lat and lon must both be set or both be null")
    if not math.isfinite(event.amount):  # msgspec bounds already exclude inf; keep the intent explicit
        raise InvalidEvent("schema: amount must be finite")
    if not "".join(_texts(event)).isprintable():  # one C call for all six (~0.3 us per event)
        raise InvalidEvent(_unprintable(event))
    return event


def _unprintable(event: Transaction) -> str:
    """The reason for refusing `event`: the first text field's first character that does not print."""
    # Control and invisible characters make a card id or a city display as something else
    # (U+202E reverses the text after it): refused, not cleaned, so the DLQ keeps the original.
    field, index, char = next(
        (f, i, c) for f in TEXT_FIELDS for i, c in enumerate(getattr(event, f)) if not c.isprintable()
    )
    name = unicodedata.name(char, f"(category {unicodedata.category(char)})")
    return f"schema: {field} has an invisible or control character U+{ord(char):04X} {name} at index {index}"


def encode_event(event: Transaction) -> bytes:
    """Serialise an event to its canonical JSON bytes (timestamps with millisecond 'Z')."""
    body = msgspec.structs.asdict(event)
    body["ts"] = format_ts(event.ts)
    return _encoder.encode(body)


def format_ts(dt: datetime) -> str:
    """Render an aware datetime as ISO-8601 UTC with milliseconds, e.g. 2026-11-29T18:45:36.123Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def event_epoch_ms(event: Transaction) -> int:
    """Event time in integer milliseconds since the epoch."""
    return int(event.ts.timestamp() * 1000)


def scenario_label(raw: bytes) -> str:
    """The ground-truth label a `scenario` header names: a known scenario, else OTHER_SCENARIO."""
    return _LABELS.get(raw, OTHER_SCENARIO)
