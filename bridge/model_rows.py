"""One batch's model scores, found by the event they belong to (what the rules read as `model_score`)."""

from __future__ import annotations

import logging
from typing import Any

from common.schema import Transaction

logger = logging.getLogger(__name__)


class ScoredRows:
    """One batch's scores by event (bridge.detection.facts.EventScores)."""

    def __init__(self, rows: dict[int, int], batch: Any) -> None:
        self._rows, self._batch = rows, batch  # id(event) -> row; a model.serving.BatchScores

    def bind(self, event: Transaction, row: int | None) -> None:
        """`event` (decoded just now, by the native path's Python side) is row `row` (None: none);
        bound right before it is evaluated, so an id reused by a freed event is never read stale."""
        if row is None:
            self._rows.pop(id(event), None)
        else:
            self._rows[id(event)] = row

    def values(self) -> list[float]:
        """Every row's score, in row order."""
        scores: list[float] = self._batch.scores.tolist()
        return scores

    def score(self, event: Transaction) -> float:
        row = self._rows.get(id(event))
        return float(self._batch.scores[row]) if row is not None else 0.0

    def reasons(self, event: Transaction) -> str:
        row = self._rows.get(id(event))
        if row is None:
            return ""
        try:
            return str(self._batch.reasons(row))
        except Exception:  # words beside a score: never worth losing the alert over
            logger.exception("bridge: no reasons for a model score (txn %s)", event.txn_id)
            return ""
