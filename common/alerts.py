"""Alert contract: the JSON alert the bridge stores in Redis and the dashboard reads."""

from __future__ import annotations

import hashlib
from typing import Literal

import msgspec

from common.keys import RedisKeys

SEVERITIES = ("low", "medium", "high")
# Workflow statuses (dashapp/store/workflow.py moves alerts between them; the bridge writes "new",
# the retention sweep drops only resolved ones).
STATUSES = ("new", "acknowledged", "assigned", "resolved_fraud", "resolved_false_positive")
OPEN_STATUSES = STATUSES[:3]
RESOLVED_STATUSES = STATUSES[3:]
Severity = Literal["low", "medium", "high"]


class Reason(msgspec.Struct, frozen=True):
    """Why one rule fired: the observed value, the limit it crossed and one analyst-readable line."""

    rule: str
    observed: float | str
    limit: float | str
    text: str


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One alert: the transaction's fields plus score, severity and reasons."""

    alert_id: str
    txn_id: str
    ts: str  # ISO-8601 UTC with milliseconds, as common.schema.format_ts renders it
    event_ms: int
    card_id: str
    account_id: str
    amount: float
    currency: str
    merchant_id: str
    merchant_category: str
    city: str
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    channel: str
    score: float
    severity: Severity
    reasons: tuple[Reason, ...]
    rules_version: int


class InvalidAlert(ValueError):
    """Bytes that are not a valid alert JSON document."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Alert)


def alert_id_for(txn_id: str) -> str:
    """Return the deterministic alert id of a transaction (replays produce the same id)."""
    return hashlib.sha256(b"alert|" + txn_id.encode()).hexdigest()[:20]


def encode_alert(alert: Alert) -> bytes:
    """Serialise an alert to its JSON bytes."""
    return _encoder.encode(alert)


def decode_alert(raw: bytes | str) -> Alert:
    """Parse alert JSON bytes; raise InvalidAlert on malformed or wrong-shaped input."""
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InvalidAlert(f"alert: {exc}") from None


def index_keys(keys: RedisKeys, alert: Alert) -> tuple[str, ...]:
    """The search-index ZSETs an alert belongs to for its whole life: card, merchant, each rule.

    Status and assignee indexes follow the workflow, so they are not listed here.
    """
    rules = dict.fromkeys(r.rule for r in alert.reasons)  # a rule named twice is indexed once
    return (
        keys.alerts_by_card(alert.card_id),
        keys.alerts_by_merchant(alert.merchant_id),
        *(keys.alerts_by_rule(rule) for rule in rules),
    )
