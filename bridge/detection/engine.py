"""The detection engine: evaluate one event against the rules and its card's state, purely."""

from __future__ import annotations

from copy import copy
from functools import partial
from math import inf
from typing import Any

import msgspec

from bridge.detection import checks
from bridge.detection.checks import Hit
from bridge.detection.custom import CustomRules, custom_rules, unsuppressed
from bridge.detection.decision import Decision, decide
from bridge.detection.facts import EventScores
from bridge.detection.ml import MlModel, features
from bridge.detection.state import RATE_CAP, CardState, HistoryState, carry_probes, learn_amount, slide_window
from common.money import shown
from common.rulelang.lists import ListSnapshot
from common.rules import RulesConfig
from common.schema import UNKNOWN_CITY, Transaction, event_epoch_ms


class MlStatus(msgspec.Struct, frozen=True):
    """Warm-up state of the process-local ml_anomaly model, for the health view."""

    enabled: bool
    seen: int
    warmup: int
    warm: bool


_FRESH = CardState()  # shared and never mutated: the engine builds new states


class Detector:
    """Evaluates events against one RulesConfig and a snapshot of the named lists.

    Built-in rules run first, exactly as before rules became data; then each enabled custom rule
    (its score is evidence like a built-in's); then suppressions drop hits of silenced rules.

    A custom hit, like a built-in's, keeps the event's amount out of the card's typical spend;
    lists never change the card's state (a suppressed hit still counts as a hit for it).

    `evaluate` is a pure function of (event, state, rules, lists) unless ml_anomaly is enabled: the model
    is process-local and learns as it scores. The input state is never mutated and the returned
    state shares no list with it, so the caller may drop the new state (e.g. when its Redis
    transaction fails) and evaluate again from the old one.
    """

    def __init__(
        self, rules: RulesConfig, model: MlModel | None = None, lists: ListSnapshot | None = None
    ) -> None:
        self.rules = rules
        self.lists: ListSnapshot = lists if lists is not None else {}
        # None without an enabled custom rule: the built-ins' path is then exactly as before
        self._custom: CustomRules | None = custom_rules(rules, self.lists)
        self._suppressions = rules.suppressions
        # Gates precomputed per rules version so a quiet event skips each check with one compare.
        self._high_above = rules.high_amount.threshold if rules.high_amount.enabled else inf
        self._unknown = rules.unknown_location if rules.unknown_location.enabled else None
        self._deny = frozenset(rules.unknown_location.deny_cities)
        self._velocity = rules.velocity if rules.velocity.enabled else None
        self._velocity_ms = rules.velocity.window_s * 1000
        self._travel = rules.impossible_travel if rules.impossible_travel.enabled else None
        self._testing = rules.card_testing if rules.card_testing.enabled else None
        self._tiny_below = rules.card_testing.tiny_below
        self._probe_ms = rules.card_testing.window_s * 1000
        self._spike = rules.amount_anomaly if rules.amount_anomaly.enabled else None
        self._ml = rules.ml_anomaly if rules.ml_anomaly.enabled else None
        self._rates = rules.currency  # US dollars per unit: every amount rule compares in dollars
        self._model = model if model is not None or self._ml is None else MlModel()

    def with_rules(self, rules: RulesConfig) -> Detector:
        """Return a detector for new rules that keeps this one's ML model (and its warm-up) and lists."""
        return Detector(rules, self._model, self.lists)

    def with_lists(self, lists: ListSnapshot) -> Detector:
        """Return a detector for a new list snapshot that keeps the rules and the ML model (the
        custom rules are not compiled again: lists change far more often than rules)."""
        other = copy(self)
        other.lists = lists
        other._custom = self._custom.with_lists(lists) if self._custom is not None else None
        return other

    def with_scores(self, scores: EventScores | None) -> Detector:
        """This detector with one batch's model scores for the rules that read `model_score`."""
        if self._custom is None:
            return self
        other = copy(self)
        other._custom = self._custom.with_scores(scores)
        return other

    def ml_status(self) -> MlStatus:
        """Report whether the ML rule is on and how far its model is through warm-up."""
        r, seen = self.rules.ml_anomaly, self._model.seen if self._model is not None else 0
        return MlStatus(r.enabled, seen, r.warmup, seen >= r.warmup)

    def evaluate(self, event: Transaction, state: CardState | None) -> tuple[Decision, CardState]:
        """Return the decision on `event` and the card's next state (`state` None = unseen card)."""
        prev = _FRESH if state is None else state
        t = event_epoch_ms(event)
        newest = t if t > prev.last_ms else prev.last_ms
        amount = event.amount * self._rates.get(event.currency, 1.0)  # no rate: compared as it is
        recent = slide_window(prev, t, newest, amount, self._velocity_ms)
        hits: list[Hit] = []
        tested = self._check_amounts(event, amount, prev, t, hits)
        moved = self._check_travel(event, prev, t, hits)
        in_window = t > newest - self._velocity_ms  # a late event outside the window is not counted
        self._check_place_and_pace(event, prev, newest, recent if in_window else None, hits)
        if self._ml is not None:
            self._score_ml(event, t, prev, hits)
        history = None
        if self._custom is not None:
            history = self._custom.observe(event, prev, amount=amount, t=t, newest=newest, hits=hits)
        nxt = self._next_state(
            prev,
            event,
            amount,
            t,
            newest,
            recent=recent,
            moved=moved,
            tested=tested,
            learn=not hits,
            history=history,
        )
        if hits and self._suppressions:  # lists only silence alerts: the card's state never reads them
            hits = unsuppressed(self.rules, event, hits, self.lists)
        return decide(hits, self.rules.alerting), nxt

    def _shown(self, event: Transaction, amount: float) -> str:
        return shown(event.amount, event.currency, amount, self._rates)

    def _check_amounts(
        self, event: Transaction, amount: float, prev: CardState, t: int, hits: list[Hit]
    ) -> bool:
        """Run high_amount, card_testing and amount_anomaly on `amount` (in US dollars); return
        whether card_testing fired.

        Each rule is gated by a cheap comparison first, so a normal event calls no check at all.
        """
        tested = False
        if amount > self._high_above and (
            hit := checks.high_amount(self.rules.high_amount, amount, self._shown(event, amount))
        ):
            hits.append(hit)
        if (
            (c := self._testing) is not None
            and prev.tiny_ms
            and amount >= c.large_at_least
            and (
                hit := checks.card_testing(
                    c, amount, t, prev.tiny_ms, prev.tiny_merchants, shown=self._shown(event, amount)
                )
            )
        ):
            hits.append(hit)
            tested = True
        if (
            (a := self._spike) is not None
            and amount >= a.min_amount
            and prev.n >= a.min_history
            and (hit := checks.amount_anomaly(a, amount, prev, self._shown(event, amount)))
        ):
            hits.append(hit)
        return tested

    def _check_place_and_pace(
        self,
        event: Transaction,
        prev: CardState,
        newest: int,
        window: tuple[list[int], list[float]] | None,
        hits: list[Hit],
    ) -> None:
        """Run unknown_location, and velocity over `window` (None: this event is not in it)."""
        city = event.city
        if (
            (u := self._unknown) is not None
            and (event.lat is None or city == UNKNOWN_CITY or city in self._deny)
            and (hit := checks.unknown_location(u, city, event.lat is not None, self._deny))
        ):
            hits.append(hit)
        if (
            (v := self._velocity) is not None
            and window is not None
            and len(window[0]) >= 2
            and (hit := checks.velocity(v, len(window[0]), sum(window[1]), prev, newest))
        ):
            hits.append(hit)

    def _check_travel(self, event: Transaction, prev: CardState, t: int, hits: list[Hit]) -> bool:
        """Run impossible_travel; return whether this event becomes the card's known position."""
        lat, lon = event.lat, event.lon
        if lat is None or lon is None:
            return False
        rule = self._travel
        if rule is None or prev.lat is None or (lat == prev.lat and lon == prev.lon):
            return True  # equal coordinates (same city) are the common case: skip the trigonometry
        if hit := checks.impossible_travel(rule, prev, t, lat, lon):
            hits.append(hit)
            return False  # keep the trusted position: one impossible hop is one alert, not two
        return True

    def _next_state(
        self,
        prev: CardState,
        event: Transaction,
        amount: float,
        t: int,
        newest: int,
        *,
        recent: tuple[list[int], list[float]],
        moved: bool,
        tested: bool,
        learn: bool,
        history: dict[str, Any] | None,
    ) -> CardState:
        """Build the card's next state around the already-slid velocity window `recent`; with
        custom rules' `history` arrays it is a HistoryState (cs2)."""
        if prev.tiny_ms or amount < self._tiny_below:
            tiny_ms, tiny_merchants = carry_probes(
                prev, event, amount, t, newest - self._probe_ms, tiny_below=self._tiny_below, tested=tested
            )
        else:  # the common case: no probes to carry and none to add
            tiny_ms, tiny_merchants = [], []
        if moved and t >= prev.geo_ms:
            geo_ms, lat, lon, city = t, event.lat, event.lon, event.city
        else:  # a late event does not move the card back to where it was
            geo_ms, lat, lon, city = prev.geo_ms, prev.lat, prev.lon, prev.city
        # alerted amounts and card-testing probes must not teach the card what its normal spend is
        if learn and amount >= self._tiny_below:
            n, log_mean, log_m2 = learn_amount(prev, amount)
        else:
            n, log_mean, log_m2 = prev.n, prev.log_mean, prev.log_m2
        # every transaction counts toward the card's usual rate, alerted ones too: otherwise a
        # card that trips velocity stops counting, looks ever quieter, and trips it forever
        since, seen = (t if prev.seen == 0 or t < prev.since_ms else prev.since_ms), prev.seen + 1
        if seen >= RATE_CAP:
            seen, since = seen // 2, newest - (newest - since) // 2
        make = CardState if history is None else partial(HistoryState, **history)
        return make(
            last_ms=newest,
            recent_ms=recent[0],
            recent_amt=recent[1],
            geo_ms=geo_ms,
            lat=lat,
            lon=lon,
            city=city,
            tiny_ms=tiny_ms,
            tiny_merchants=tiny_merchants,
            since_ms=since,
            seen=seen,
            n=n,
            log_mean=log_mean,
            log_m2=log_m2,
        )

    def _score_ml(self, event: Transaction, t: int, prev: CardState, hits: list[Hit]) -> None:
        assert self._model is not None and self._ml is not None
        rule = self._ml
        score = self._model.score_and_learn(features(event, t, prev))
        if self._model.seen > rule.warmup and (hit := checks.ml_anomaly(rule, score)):
            hits.append(hit)
