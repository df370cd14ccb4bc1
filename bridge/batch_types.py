"""The types of one bridge batch, in the order a batch meets them: polled, validated, scored, written.

Taken (the poll's records) -> Polled (validated) -> Scored / DeadLetter -> Outcome (what one Redis
transaction writes, from either engine) -> Unconfirmed (sent, not yet answered). Detected, Batch
and NativeResult are the two engines' own intermediate forms; Decided is what both hand back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from bridge.detection import CardState
from bridge.validation import Rejected
from common.alerts import Alert
from common.schema import Transaction


class Taken(NamedTuple):
    """The records of one poll that this instance applies, with each partition's offset range."""

    records: list[Any]
    first: dict[int, int]  # partition -> first offset
    nxt: dict[int, int]  # partition -> offset after the last


class RecordMeta(NamedTuple):
    """Where a record came from and its ground-truth headers (never shown to the detector)."""

    partition: int
    offset: int
    ts_ms: int  # Kafka record timestamp (record time)
    scenario: str | None = None  # a known label or "other" (common.schema.scenario_label)
    scenario_id: str | None = None
    last: bool = False  # the last event of its fraud instance: the instance is finished


class Polled(NamedTuple):
    """One consumed record after validation (the raw record kept for the dead-letter topic)."""

    meta: RecordMeta
    record: Any  # kafka ConsumerRecord
    result: Transaction | Rejected


class Scored(NamedTuple):
    """A valid event and what detection concluded about it."""

    meta: RecordMeta
    event: Transaction
    score: float
    severity: str
    alert: Alert | None  # set when the decision raised an alert


class DeadLetter(NamedTuple):
    """A record that went to the dead-letter topic."""

    meta: RecordMeta
    reason_class: str
    reason: str
    preview: str


class Detected(NamedTuple):
    """Detection output of one batch."""

    scored: list[Scored]
    rejected: list[Polled]  # every record bound for the dead-letter topic, in order
    states: dict[str, tuple[int, CardState]]  # card_id -> (partition, newest state)


class Batch(NamedTuple):
    """Everything one transaction writes: results, new card states and the next offset per partition."""

    scored: list[Scored]
    dead: list[DeadLetter]
    states: Mapping[str, bytes]  # card_id -> encoded CardState after this batch
    next_offsets: Mapping[int, int]


class Tally(NamedTuple):
    """Per-batch aggregates of the scored events (built here, or by the native engine)."""

    seconds: list[tuple[int, int, int]]  # (second, transactions, amount in US cents at the rules' rates)
    cities: list[tuple[str, int]]  # city -> transactions
    geo: list[tuple[str, float, float, str | None]]  # city -> newest (lat, lon, country)
    scenarios: list[tuple[str, int]]  # ground-truth scenario -> events
    instances: list[tuple[str, list[str]]]  # fraud scenario -> instance ids seen
    rows: list[bytes]  # `txns` stream rows, oldest first
    finished: Sequence[tuple[str, str]] = ()  # (fraud scenario, id) whose last event this was


class Packed(NamedTuple):
    """Rows and card states already encoded as RESP bulk strings by the native engine."""

    row_count: int
    rows: bytes  # the newest rows (at most RECENT_TXNS_MAX), oldest first
    state_count: int
    state_keys: bytes
    state_values: bytes  # in the same order as the keys


class Outcome(NamedTuple):
    """A processed batch in aggregate form, from either engine path: what one transaction writes."""

    tally: Tally
    alerted: list[Scored]  # the scored events that raised an alert, in order
    dead: list[DeadLetter]
    states: Mapping[str, bytes]  # card_id -> encoded CardState after this batch
    next_offsets: Mapping[int, int]
    scored: int  # valid events in the batch
    packed: Packed | None = None  # set: rows and states come from here, not tally.rows / states


class NativeResult(NamedTuple):
    """What one batch produced on the native path."""

    tally: Tally  # rows empty when packed
    alerted: list[Scored]
    rejected: list[Polled]  # records bound for the dead-letter topic, in order
    states: dict[str, bytes]  # card_id -> encoded state after the batch (empty when packed)
    scored: int
    packed: Packed | None
    metas: dict[int, RecordMeta] | None = None  # id(event) -> its record, for every event Python evaluated


class Unconfirmed(NamedTuple):
    """A batch whose transaction was sent without waiting for Redis's answer."""

    first: dict[int, int]  # partition -> first offset of the batch
    records: int


class Decided(NamedTuple):
    """What an engine hands back for one batch, whichever engine it is."""

    outcome: Outcome
    rejected: list[Polled]  # records bound for the dead-letter topic, in order
    metas: Mapping[int, RecordMeta]  # id(event) -> its record, for each event Python evaluated (shadow)
