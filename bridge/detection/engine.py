"""The detection engine: evaluate one event against the rules and its card's state, purely."""

from __future__ import annotations

from bisect import bisect_right
from math import log
from zlib import crc32

import msgspec

from bridge.detection import checks
from bridge.detection.checks import Hit
from bridge.detection.ml import MlModel, features
from bridge.detection.state import RATE_CAP, RECENT_MAX, STATS_CAP, TINY_MAX, CardState
from common.alerts import Alert, Reason, alert_id_for
from common.rules import RulesConfig
from common.schema import Transaction, event_epoch_ms, format_ts


class Decision(msgspec.Struct, frozen=True):
    """The verdict on one event: why (reasons), how bad (score, severity) and whether to alert."""

    reasons: tuple[Reason, ...]
    score: float
    severity: str
    is_alert: bool


class MlStatus(msgspec.Struct, frozen=True):
    """Warm-up state of the process-local ml_anomaly model, for the health view."""

    enabled: bool
    seen: int
    warmup: int
    warm: bool


QUIET = Decision((), 0.0, "low", False)
_FRESH = CardState()  # shared and never mutated: the engine builds new states


class Detector:
    """Evaluates events against one RulesConfig.

    `evaluate` is a pure function of (event, state, rules) unless ml_anomaly is enabled: the model
    is process-local and learns as it scores. The input state is never mutated; returned states
    may share (read-only) lists with the input, so treat every CardState as immutable.
    """

    def __init__(self, rules: RulesConfig, model: MlModel | None = None) -> None:
        self.rules = rules
        self._deny = frozenset(rules.unknown_location.deny_cities)
        self._velocity_ms = rules.velocity.window_s * 1000
        self._probe_ms = rules.card_testing.window_s * 1000
        self._model = model if model is not None or not rules.ml_anomaly.enabled else MlModel()

    def with_rules(self, rules: RulesConfig) -> Detector:
        """Return a detector for new rules that keeps this one's ML model (and its warm-up)."""
        return Detector(rules, self._model)

    def ml_status(self) -> MlStatus:
        """Report whether the ML rule is on and how far its model is through warm-up."""
        r, seen = self.rules.ml_anomaly, self._model.seen if self._model is not None else 0
        return MlStatus(r.enabled, seen, r.warmup, seen >= r.warmup)

    def evaluate(self, event: Transaction, state: CardState | None) -> tuple[Decision, CardState]:
        """Return the decision on `event` and the card's next state (`state` None = unseen card)."""
        prev = _FRESH if state is None else state
        r = self.rules
        t = event_epoch_ms(event)
        amount = event.amount
        lat, lon = event.lat, event.lon
        hits: list[Hit] = []
        if r.high_amount.enabled and (hit := checks.high_amount(r.high_amount, amount)):
            hits.append(hit)
        if r.unknown_location.enabled and (
            hit := checks.unknown_location(r.unknown_location, event.city, lat is not None, self._deny)
        ):
            hits.append(hit)
        newest = t if t > prev.last_ms else prev.last_ms
        recent_ms, recent_amt = self._slide(prev, t, newest, amount)
        if (
            r.velocity.enabled
            and t > newest - self._velocity_ms
            and (hit := checks.velocity(r.velocity, len(recent_ms), sum(recent_amt), prev, newest))
        ):
            hits.append(hit)
        moved = lat is not None and lon is not None
        if (
            r.impossible_travel.enabled
            and lat is not None
            and lon is not None
            and (travel := checks.impossible_travel(r.impossible_travel, prev, t, lat, lon))
        ):
            hits.append(travel)
            moved = False  # keep the trusted position: one impossible hop is one alert, not two
        tested = r.card_testing.enabled and (
            hit := checks.card_testing(r.card_testing, amount, t, prev.tiny_ms, prev.tiny_merchants)
        )
        if tested and hit:
            hits.append(hit)
        spiked = r.amount_anomaly.enabled and (hit := checks.amount_anomaly(r.amount_anomaly, amount, prev))
        if spiked and hit:
            hits.append(hit)
        if self._model is not None and r.ml_anomaly.enabled:
            self._score_ml(event, t, prev, hits)
        nxt = CardState(last_ms=newest, recent_ms=recent_ms, recent_amt=recent_amt)
        self._probes(nxt, prev, event, t, newest=newest, tested=bool(tested))
        self._place(nxt, prev, event, t, moved)
        # alerted amounts and card-testing probes must not teach the card what its normal spend is
        self._stats(nxt, prev, amount, keep=not hits and amount >= r.card_testing.tiny_below)
        self._rate(nxt, prev, t, newest)
        return self._decide(hits), nxt

    def _slide(self, prev: CardState, t: int, newest: int, amount: float) -> tuple[list[int], list[float]]:
        """Return the velocity window (ascending times, amounts) after adding this event."""
        cutoff = newest - self._velocity_ms
        times, amounts = prev.recent_ms, prev.recent_amt
        start = 0
        while start < len(times) and times[start] <= cutoff:
            start += 1
        times, amounts = times[start:], amounts[start:]  # slices are copies: prev stays intact
        if t > cutoff:
            at = len(times) if not times or t >= times[-1] else bisect_right(times, t)
            times.insert(at, t)
            amounts.insert(at, amount)
            if len(times) > RECENT_MAX:
                del times[0], amounts[0]
        return times, amounts

    def _probes(
        self, nxt: CardState, prev: CardState, event: Transaction, t: int, *, newest: int, tested: bool
    ) -> None:
        """Carry the card-testing probes still in the window, plus this event if it is tiny."""
        rule = self.rules.card_testing
        tiny = event.amount < rule.tiny_below
        if tested or (not prev.tiny_ms and not tiny):
            return  # a completed pattern starts afresh, so one probe run alerts once
        cutoff = newest - self._probe_ms
        kept = [i for i, ms in enumerate(prev.tiny_ms) if ms > cutoff]
        nxt.tiny_ms = [prev.tiny_ms[i] for i in kept]
        nxt.tiny_merchants = [prev.tiny_merchants[i] for i in kept]
        if tiny and t > cutoff:
            nxt.tiny_ms.append(t)
            nxt.tiny_merchants.append(crc32(event.merchant_id.encode()))  # stable across processes
            if len(nxt.tiny_ms) > TINY_MAX:
                del nxt.tiny_ms[0], nxt.tiny_merchants[0]

    @staticmethod
    def _place(nxt: CardState, prev: CardState, event: Transaction, t: int, moved: bool) -> None:
        """Remember the newest located transaction (an older, late one does not move the card)."""
        if moved and t >= prev.geo_ms:
            nxt.geo_ms, nxt.lat, nxt.lon, nxt.city = t, event.lat, event.lon, event.city
        else:
            nxt.geo_ms, nxt.lat, nxt.lon, nxt.city = prev.geo_ms, prev.lat, prev.lon, prev.city

    @staticmethod
    def _stats(nxt: CardState, prev: CardState, amount: float, keep: bool) -> None:
        """Fold ln(amount) into the card's running stats (capped Welford, so old history fades)."""
        if not keep:
            nxt.n, nxt.log_mean, nxt.log_m2 = prev.n, prev.log_mean, prev.log_m2
            return
        n, m2 = prev.n, prev.log_m2
        if n >= STATS_CAP:
            k = STATS_CAP
            m2 *= (k - 1) / k
        else:
            k = n + 1
        x = log(amount)
        delta = x - prev.log_mean
        log_mean = prev.log_mean + delta / k
        nxt.n, nxt.log_mean, nxt.log_m2 = k, log_mean, m2 + delta * (x - log_mean)

    @staticmethod
    def _rate(nxt: CardState, prev: CardState, t: int, newest: int) -> None:
        """Count every transaction of the card over a span that halves at RATE_CAP.

        Alerted ones count too: otherwise a card that trips the rule stops counting, looks ever
        quieter, and trips it forever.
        """
        since, seen = prev.since_ms, prev.seen + 1
        if seen == 1 or t < since:
            since = t
        if seen >= RATE_CAP:
            seen, since = seen // 2, newest - (newest - since) // 2
        nxt.since_ms, nxt.seen = since, seen

    def _score_ml(self, event: Transaction, t: int, prev: CardState, hits: list[Hit]) -> None:
        assert self._model is not None
        rule = self.rules.ml_anomaly
        score = self._model.score_and_learn(features(event, t, prev))
        if self._model.seen > rule.warmup and (hit := checks.ml_anomaly(rule, score)):
            hits.append(hit)

    def _decide(self, hits: list[Hit]) -> Decision:
        """Combine rule scores as independent evidence: 1 - prod(1 - s_i)."""
        if not hits:
            return QUIET
        keep = 1.0
        for score, _ in hits:
            keep *= 1.0 - score
        total = round(1.0 - keep, 6)
        a = self.rules.alerting
        severity = "high" if total >= a.high_score else "medium" if total >= a.medium_score else "low"
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
        severity=decision.severity,  # type: ignore[arg-type]
        reasons=decision.reasons,
        rules_version=rules_version,
    )
