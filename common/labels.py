"""Labels contract: one fraud / legitimate verdict on a transaction as a versioned Kafka record."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

import msgspec

# Bump only with a reader that still accepts the previous version; readers refuse any other.
LABEL_SCHEMA = 1
FRAUD, LEGITIMATE = "fraud", "legitimate"
CHARGEBACK, ANALYST, GROUND_TRUTH = "chargeback", "analyst", "ground_truth"
LABELS = (FRAUD, LEGITIMATE)
SOURCES = (CHARGEBACK, ANALYST, GROUND_TRUTH)
LABEL_ID_HEADER = "label_id"
SOURCE_HEADER = "source"
# An analyst's disposition (common.alert_events: after["disposition"]) and the label it is.
DISPOSITION_LABELS = {"fraud": FRAUD, "false_positive": LEGITIMATE}

LabelValue = Literal["fraud", "legitimate"]
Source = Literal["chargeback", "analyst", "ground_truth"]


class InvalidLabel(ValueError):
    """Bytes that are not a version-1 label, or a label built from unusable fields."""


class Label(msgspec.Struct, frozen=True, kw_only=True):
    """A verdict on one transaction, known from `label_ms` (event time) on.

    `ref` tells two verdicts of one source on one transaction apart: the alert-events `event_id`
    of an analyst's resolution, empty for the producer's one label per transaction. `label_id` is
    derived from (source, txn_id, ref), so a re-sent label has the same id: de-duplicate on it.
    """

    label_id: str
    txn_id: str
    card_id: str
    label: LabelValue
    source: Source
    label_ms: int  # event time from which the label is known (epoch ms)
    txn_ms: int = 0  # the transaction's event time when the writer knows it, else 0
    ref: str = ""
    schema_version: int = LABEL_SCHEMA


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Label)


def label_id_for(source: str, txn_id: str, ref: str = "") -> str:
    """The deterministic id of a label (same source, transaction and ref => same id)."""
    return hashlib.sha256(f"label|{source}|{txn_id}|{ref}".encode()).hexdigest()[:24]


def make_label(
    *, txn_id: str, card_id: str, label: str, source: str, label_ms: int, txn_ms: int = 0, ref: str = ""
) -> Label:
    """Build a label with its id; raise InvalidLabel on an empty id or an unknown label or source."""
    if not txn_id or not card_id:
        raise InvalidLabel("label: txn_id and card_id must not be empty")
    if label not in LABELS:
        raise InvalidLabel(f"label: unknown label {label!r:.60} (one of {', '.join(LABELS)})")
    if source not in SOURCES:
        raise InvalidLabel(f"label: unknown source {source!r:.60} (one of {', '.join(SOURCES)})")
    return Label(
        label_id=label_id_for(source, txn_id, ref), txn_id=txn_id, card_id=card_id,
        label=label, source=source, label_ms=label_ms, txn_ms=txn_ms, ref=ref,  # type: ignore[arg-type]
    )  # fmt: skip


def label_record(label: Label) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Return (key, value, headers): key = card id, like the transactions, so a card's labels stay
    in order on one partition (the same partition number as its transactions, with equal counts)."""
    headers = [(LABEL_ID_HEADER, label.label_id.encode()), (SOURCE_HEADER, label.source.encode())]
    return label.card_id.encode(), _encoder.encode(label), headers


def decode_label(value: bytes | str | None) -> Label:
    """Parse a labels-topic value; raise InvalidLabel on anything but a consistent version-1 label."""
    if value is None:  # a record without a value (a tombstone) is not a label either
        raise InvalidLabel("label: the record has no value")
    try:
        label = _decoder.decode(value)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InvalidLabel(f"label: {exc}") from None
    if label.schema_version != LABEL_SCHEMA:
        raise InvalidLabel(
            f"label: schema_version {label.schema_version} is not {LABEL_SCHEMA} (a newer writer?)"
        )
    if not label.txn_id or not label.card_id:
        raise InvalidLabel("label: txn_id and card_id must not be empty")
    if label.label_id != label_id_for(label.source, label.txn_id, label.ref):
        raise InvalidLabel(f"label: label_id {label.label_id!r:.40} does not match its fields")
    return label


def current_labels(
    labels: Iterable[Label], *, known_at_ms: int | None = None
) -> dict[tuple[str, str], Label]:
    """The verdict standing per (txn_id, source), as the contract defines it (docs/labels.md).

    Duplicates (same label_id) count once; a label counts only from its `label_ms` (none later than
    `known_at_ms` when given); the greatest `label_ms` wins, ties by `label_id`, so the result does
    not depend on the order the labels were read in.
    """
    out: dict[tuple[str, str], Label] = {}
    for label in labels:
        if known_at_ms is not None and label.label_ms > known_at_ms:
            continue
        key = (label.txn_id, label.source)
        held = out.get(key)
        if held is None or (label.label_ms, label.label_id) > (held.label_ms, held.label_id):
            out[key] = label
    return out
