"""The verdict on one event: rule hits combined into a score, a severity and an alert."""

from __future__ import annotations

import msgspec

from bridge.detection.checks import Hit
from common.alerts import Alert, Reason, Severity, alert_id_for
from common.rules import AlertingConfig
from common.schema import Transaction, event_epoch_ms, format_ts


class Decision(msgspec.Struct, frozen=True):
    """The verdict on one event: why (reasons), how bad (score, severity) and whether to alert."""

    reasons: tuple[Reason, ...]
    score: float
    severity: Severity
    is_alert: bool


QUIET = Decision((), 0.0, "low", False)


def decide(hits: list[Hit], a: AlertingConfig) -> Decision:
    """Combine rule scores as independent evidence: 1 - prod(1 - s_i)."""
    if not hits:
        return QUIET
    keep = 1.0
    for score, _ in hits:
        keep *= 1.0 - score
    total = round(1.0 - keep, 6)
    severity: Severity = "high" if total >= a.high_score else "medium" if total >= a.medium_score else "low"
    return Decision(tuple(reason for _, reason in hits), total, severity, total >= a.min_score)


def make_alert(event: Transaction, decision: Decision, rules_version: int) -> Alert:
    """Build the stored alert for an event; its id depends only on the transaction id."""
    return Alert(
        alert_id=alert_id_for(event.txn_id),
        txn_id=event.txn_id,
        ts=format_ts(event.ts),
        event_ms=event_epoch_ms(event),
        card_id=event.card_id,
        account_id=event.account_id,
        amount=event.amount,
        currency=event.currency,
        merchant_id=event.merchant_id,
        merchant_category=event.merchant_category,
        city=event.city,
        country=event.country,
        lat=event.lat,
        lon=event.lon,
        channel=event.channel,
        score=decision.score,
        severity=decision.severity,
        reasons=decision.reasons,
        rules_version=rules_version,
    )
