"""A serving bridge's live view of its champion: the score distribution and the drift of the
features against the training range (bridge/model_serving.py feeds it every scored batch)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class ScoreMonitor:
    """Each scored batch into the score histogram (`on_scores`) and the champion's live drift."""

    def __init__(self, on_scores: Callable[[Any], None] | None) -> None:
        self._on_scores = on_scores  # the score distribution (bridge.metrics)
        self._drift: Any = None  # model.drift.LiveDrift of the champion `_drift_of`
        self._drift_of: str | None = None
        self._monitor_error: str | None = None

    def add(self, entry: Any, batch: Any) -> None:
        """The score distribution and the live drift; a failure here loses the figures, never the
        scores (logged once per kind of error)."""
        try:
            if self._on_scores is not None:
                self._on_scores(batch.scores)
            self._count_drift(entry, batch)
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}"
            if why != self._monitor_error:
                logger.exception("bridge: model monitoring skipped a batch")
            self._monitor_error = why

    def _count_drift(self, entry: Any, batch: Any) -> None:
        """The batch into the champion's live drift windows (a card without training bins: none)."""
        if self._drift_of != entry.version:
            from model.drift import LiveDrift
            from model.features import FeatureConfig

            self._drift, self._drift_of = None, entry.version  # a reference it cannot use: no drift
            ref = entry.card.get("drift_reference")
            if isinstance(ref, dict):
                try:
                    self._drift = LiveDrift(ref, FeatureConfig().names())
                except ValueError as exc:
                    logger.error("bridge: no live drift for champion %s: %s", entry.version, exc)
        if self._drift is not None:
            ok = batch.scored
            self._drift.add(batch.x[ok], batch.scores[ok])

    def drift_psi(self) -> dict[str, float] | None:
        """The live PSI per feature and of the score (None: too few rows, or no bins)."""
        return self._drift.current() if self._drift is not None else None
