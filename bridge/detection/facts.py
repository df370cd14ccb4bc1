"""The facts one event gives custom rules: its fields at once, aggregates and features on first read."""

from __future__ import annotations

from typing import Any, Protocol

from bridge.detection import features as feat
from bridge.detection.history import Where, aggregate, crc, window_span
from bridge.detection.state import CardState, HistoryState
from common.schema import Transaction

Agg = tuple[str, str | None, int, Where | None]  # kind, of, window_ms, where
Ring = tuple[list[int], tuple[list[Any], ...]]
_NEW = {"new_country": 0, "new_merchant": 1, "new_category": 2}  # index into features.seen_lists


class EventScores(Protocol):
    """A model's scores of one batch's events (bridge.model_serving), read by `model_score`."""

    def score(self, event: Transaction) -> float: ...

    def reasons(self, event: Transaction) -> str: ...


class LazyFacts(dict[str, Any]):
    """A rule's facts: event fields up front; an aggregate or feature is computed when a rule first
    reads it (rules short-circuit, so a quiet event usually computes none). Values are exactly
    those computed eagerly: reading is pure and each value is cached."""

    __slots__ = ("_aggs", "_amount", "_event", "_ext", "_prev", "_ring", "_scores", "_t")

    def bind(
        self,
        aggs: dict[str, Agg],
        event: Transaction,
        prev: CardState,
        ext: HistoryState,
        ring: Ring,
        *,
        amount: float,
        t: int,
        scores: EventScores | None = None,
    ) -> LazyFacts:
        self._aggs, self._event, self._prev, self._ext, self._ring = aggs, event, prev, ext, ring
        self._amount, self._t, self._scores = amount, t, scores
        return self

    def __missing__(self, key: str) -> Any:
        agg = self._aggs.get(key)
        value = self._aggregate(agg) if agg is not None else self._feature(key)
        self[key] = value
        return value

    def _aggregate(self, agg: Agg) -> float | int:
        kind, of, window_ms, where = agg
        ms, cols = self._ring
        lo, hi = window_span(ms, self._t, window_ms)
        return aggregate(kind, of, where, cols, range(lo, hi))

    def _feature(self, key: str) -> Any:
        event, prev = self._event, self._prev
        if key == "distance_km":
            return feat.distance_km(event, prev)
        if key == "speed_kmh":
            return feat.speed_kmh(event, prev, self._t, self["distance_km"])
        if key == "amount_ratio":
            return feat.amount_ratio(self._amount, prev)
        if key == "since_prev_s":
            return feat.since_prev_s(prev, self._t)
        if key in ("model_score", "model_reasons"):
            return self._model(key)
        if key in _NEW:
            i = _NEW[key]
            value = (event.country or "", event.merchant_id, event.merchant_category)[i]  # as event_facts
            return feat.is_new(feat.seen_lists(self._ext)[i], crc(value))
        raise KeyError(key)

    def _model(self, key: str) -> float | str:
        """The batch's model score (0 without a model scoring it, the language's default), or the
        features that raised it, which an explanation quotes beside the score."""
        scores = self._scores
        if key == "model_score":
            return scores.score(self._event) if scores is not None else 0.0
        return scores.reasons(self._event) if scores is not None else ""
