"""Drift of a range against the training range: population stability index per feature and of the score.

At training, `reference()` keeps each feature's and the score's decile edges and the share of
training rows in each bin (in the model card). A later range's shares in the same bins give the
PSI, sum((a - e) * ln(a / e)): by the usual reading, under 0.1 stable, 0.1 to 0.25 a moderate
shift, above 0.25 a significant one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

BINS = 10
EPS = 1e-4  # a bin no row fell in counts as this share, so the logarithm stays finite
SCORE = "score"


def _edges(values: npt.NDArray[np.float64]) -> list[float]:
    inner = np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]) if len(values) else np.array([])
    return sorted({float(v) for v in inner})  # a feature with few values has fewer, distinct edges


def _shares(values: npt.NDArray[np.float64], edges: Sequence[float]) -> list[float]:
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(edges) + 1)
    total = max(1, int(counts.sum()))
    return [round(float(c) / total, 6) for c in counts]


def reference(
    x: npt.NDArray[np.float64], scores: npt.NDArray[np.float64], names: Sequence[str]
) -> dict[str, Any]:
    """The training range's bins: {name: {edges, shares}} for every feature and the score."""
    columns = {**{n: x[:, i] for i, n in enumerate(names)}, SCORE: scores}
    out = {}
    for name, values in columns.items():
        edges = _edges(np.asarray(values, dtype=np.float64))
        out[name] = {"edges": edges, "shares": _shares(np.asarray(values, dtype=np.float64), edges)}
    return out


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), EPS)
    a = np.maximum(np.asarray(actual, dtype=np.float64), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def rating(value: float) -> str:
    return "stable" if value < 0.1 else "moderate shift" if value <= 0.25 else "significant shift"


def drift(
    ref: Mapping[str, Any], x: npt.NDArray[np.float64], scores: npt.NDArray[np.float64], names: Sequence[str]
) -> dict[str, Any]:
    """PSI of each feature and of the score in a range against `ref`; the features most shifted first."""
    columns = {**{n: x[:, i] for i, n in enumerate(names)}, SCORE: scores}
    missing = sorted(set(columns) - set(ref))
    if missing:
        raise ValueError(f"the drift reference lacks {missing[:5]} (a model trained with other features)")
    values = {
        name: psi(ref[name]["shares"], _shares(np.asarray(v, dtype=np.float64), ref[name]["edges"]))
        for name, v in columns.items()
    }
    features = sorted(((n, round(v, 4)) for n, v in values.items() if n != SCORE), key=lambda p: -p[1])
    score = round(values[SCORE], 4)
    return {
        "rows": len(scores),
        "score_psi": score,
        "score_rating": rating(score),
        "features": [{"feature": n, "psi": v, "rating": rating(v)} for n, v in features],
    }


def live_summary(psi_by_column: Mapping[str, float]) -> str:
    """The live drift in a few words for the pipeline-health panel: the score's PSI and rating, and
    the most shifted feature."""
    score = psi_by_column.get(SCORE, 0.0)
    features = [(v, n) for n, v in psi_by_column.items() if n != SCORE]
    top = f"; most shifted {max(features)[1]} {max(features)[0]:.2f}" if features else ""
    return f"live drift: score PSI {score:.2f} ({rating(score)}){top}"


class LiveDrift:
    """PSI of the live stream against a model's training bins, over windows of `window` scored rows:
    the counts of the window filling now, and the PSI of the last full one (or of the filling one
    until there is a full one)."""

    def __init__(self, ref: Mapping[str, Any], names: Sequence[str], window: int = 100_000) -> None:
        self._names, self._window = (*names, SCORE), window
        missing = sorted(set(self._names) - set(ref))
        if missing:
            raise ValueError(f"the drift reference lacks {missing[:5]} (a model trained with other features)")
        self._edges = [np.asarray(ref[n]["edges"], dtype=np.float64) for n in self._names]
        self._expected = [ref[n]["shares"] for n in self._names]
        self._counts = [np.zeros(len(e) + 1, dtype=np.int64) for e in self._edges]
        self._rows = 0
        self._last: dict[str, float] | None = None

    def add(self, x: npt.NDArray[np.float64], scores: npt.NDArray[np.float64]) -> None:
        """Count a batch's rows (features, then the score) into the window's bins."""
        columns = [*(x[:, i] for i in range(x.shape[1])), scores]
        for i, (edges, values) in enumerate(zip(self._edges, columns, strict=True)):
            self._counts[i] += np.bincount(
                np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1
            )
        self._rows += len(scores)
        if self._rows >= self._window:
            self._last = self._psi()
            self._counts = [np.zeros_like(c) for c in self._counts]
            self._rows = 0

    def _psi(self) -> dict[str, float]:
        total = max(1, self._rows)
        return {
            name: psi(expected, (counts / total).tolist())
            for name, expected, counts in zip(self._names, self._expected, self._counts, strict=True)
        }

    def current(self, min_rows: int = 1_000) -> dict[str, float] | None:
        """Column -> PSI (the score as `score`); None before `min_rows` rows were counted."""
        if self._last is not None:
            return self._last
        return self._psi() if self._rows >= min_rows else None
