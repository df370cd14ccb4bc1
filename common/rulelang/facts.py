"""Facts a rule reads: the event's fields (this module), plus one value per aggregate key and feature."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from common.money import to_usd
from common.rulelang.model import WEEKDAYS
from common.schema import Transaction, event_epoch_ms

# Facts = event fields (model.FIELDS) + "ts_ms" + AggSpec.key -> value + feature name -> value.
Facts = Mapping[str, Any]


def event_facts(event: Transaction, rates: Mapping[str, float]) -> dict[str, Any]:
    """The event part of the facts: every field of the language's table, and ts_ms.

    `hour` and `weekday` are those of `ts` in UTC; a missing country reads as "" (two-valued logic:
    `country eq X` is false and `country ne X` true, never unknown).
    """
    ts = event.ts.astimezone(UTC)
    return {
        "amount": event.amount,
        "amount_usd": to_usd(event.amount, event.currency, rates),
        "currency": event.currency,
        "merchant_id": event.merchant_id,
        "merchant_category": event.merchant_category,
        "channel": event.channel,
        "country": event.country or "",
        "city": event.city,
        "card_id": event.card_id,
        "account_id": event.account_id,
        "hour": ts.hour,
        "weekday": WEEKDAYS[ts.weekday()],
        "ts_ms": event_epoch_ms(event),
    }
