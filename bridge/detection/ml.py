"""Optional online anomaly model (river HalfSpaceTrees) behind the ml_anomaly rule.

The model is process-local and learns from every event it scores, so its scores depend on what this
process has seen: decisions with ml_anomaly enabled are not reproducible across processes/replays.
"""

from __future__ import annotations

from math import exp, log1p
from typing import Any

from bridge.detection.geo import haversine_km
from bridge.detection.state import NO_TIME, CardState
from common.schema import MAX_AMOUNT, Transaction

_LOG_MAX_AMOUNT = log1p(MAX_AMOUNT)
_LOG_MAX_KM = log1p(20_040.0)  # half the equator: the largest great-circle distance
_LOG_MAX_GAP_S = log1p(30 * 86_400.0)
_LOG_MAX_RATIO = log1p(100.0)


def features(event: Transaction, t: int, prev: CardState) -> dict[str, float]:
    """Return the model's features, each scaled into [0, 1] as HalfSpaceTrees expects."""
    channel = event.channel
    km = 0.0
    if event.lat is not None and event.lon is not None and prev.lat is not None and prev.lon is not None:
        km = haversine_km(prev.lat, prev.lon, event.lat, event.lon)
    gap_s = abs(t - prev.last_ms) / 1000.0 if prev.last_ms != NO_TIME else 30 * 86_400.0
    ratio = event.amount / exp(prev.log_mean) if prev.n else 1.0
    return {
        "amount": min(1.0, log1p(event.amount) / _LOG_MAX_AMOUNT),
        "hour": ((t // 3_600_000) % 24) / 24.0,
        "online": 1.0 if channel == "online" else 0.0,
        "atm": 1.0 if channel == "atm" else 0.0,
        "located": 0.0 if event.lat is None else 1.0,
        "km": min(1.0, log1p(km) / _LOG_MAX_KM),
        "gap": min(1.0, log1p(gap_s) / _LOG_MAX_GAP_S),
        "ratio": min(1.0, log1p(ratio) / _LOG_MAX_RATIO),
    }


class MlModel:
    """HalfSpaceTrees that scores an event, then learns it; `seen` counts learned events."""

    def __init__(self, seed: int = 7, n_trees: int = 10, height: int = 6, window_size: int = 250) -> None:
        from river import anomaly  # imported only when the rule is enabled: river is slow to import

        self._model: Any = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )
        self.seen = 0

    def score_and_learn(self, x: dict[str, float]) -> float:
        """Return the anomaly score in [0, 1] of `x` (higher = stranger), then learn from it."""
        score = float(self._model.score_one(x))
        self._model.learn_one(x)
        self.seen += 1
        return score
