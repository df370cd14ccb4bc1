"""The handbook's metrics (AUC ROC, average precision, Card Precision@k per day, known cards removed)
and precision / recall at the alert threshold."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score

# The score at which a model's alerts are counted: docs/model.md's `model_high` rule fires at 0.8.
ALERT_THRESHOLD = 0.8


def _share(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


@dataclass(frozen=True)
class Scores:
    """One test period's figures."""

    auc_roc: float
    average_precision: float
    card_precision_at_k: float
    k: int
    transactions: int
    frauds: int
    threshold: float = ALERT_THRESHOLD
    flagged: int = 0  # transactions scored at or above the threshold
    caught: int = 0  # of them, fraud

    @property
    def precision(self) -> float:
        """Of the transactions the threshold flags, the share that were fraud (NaN: none flagged)."""
        return self.caught / self.flagged if self.flagged else float("nan")

    @property
    def recall(self) -> float:
        """Of the frauds, the share the threshold flags (NaN: no fraud)."""
        return self.caught / self.frauds if self.frauds else float("nan")

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "auc_roc": round(self.auc_roc, 4),
            "average_precision": round(self.average_precision, 4),
            f"card_precision_at_{self.k}": round(self.card_precision_at_k, 4),
            "transactions": self.transactions,
            "frauds": self.frauds,
            "threshold": self.threshold,
            "flagged": self.flagged,
            "precision": _share(self.precision),  # null, not NaN: cards and logs are JSON
            "recall": _share(self.recall),
        }


def card_precision_at_k(
    day: npt.NDArray[np.int64],
    card: npt.NDArray[np.int64],
    fraud: npt.NDArray[np.bool_],
    score: npt.NDArray[np.float64],
    k: int = 100,
) -> float:
    """The book's CP@k: each day, a card's score is its highest transaction score; of the k cards
    with the highest scores, the share that had a fraud that day; cards found compromised on an
    earlier day of the period are no longer ranked. Mean over the days."""
    detected: set[int] = set()
    per_day = []
    for d in np.unique(day):
        rows = np.flatnonzero(day == d)
        rows = rows[~np.isin(card[rows], np.fromiter(detected, dtype=np.int64, count=len(detected)))]
        cards, inverse = np.unique(card[rows], return_inverse=True)
        best = np.full(len(cards), -np.inf)
        np.maximum.at(best, inverse, score[rows])
        was_fraud = np.zeros(len(cards), dtype=bool)
        np.logical_or.at(was_fraud, inverse, fraud[rows])
        top = np.argsort(-best, kind="stable")[:k]
        hits = cards[top][was_fraud[top]]
        detected.update(int(c) for c in hits)
        per_day.append(len(hits) / k)
    return float(np.mean(per_day)) if per_day else float("nan")


def evaluate(
    day: npt.NDArray[np.int64],
    card: npt.NDArray[np.int64],
    fraud: npt.NDArray[np.bool_],
    score: npt.NDArray[np.float64],
    k: int = 100,
    *,
    threshold: float = ALERT_THRESHOLD,
) -> Scores:
    """AUC ROC, average precision (scikit-learn's, as the book uses), CP@k of one test period, and
    precision / recall of the transactions scored at or above `threshold`."""
    both = 0 < fraud.sum() < len(fraud)
    flagged = score >= threshold
    return Scores(
        auc_roc=float(roc_auc_score(fraud, score)) if both else float("nan"),
        average_precision=float(average_precision_score(fraud, score)) if both else float("nan"),
        card_precision_at_k=card_precision_at_k(day, card, fraud, score, k),
        k=k,
        transactions=len(fraud),
        frauds=int(fraud.sum()),
        threshold=threshold,
        flagged=int(flagged.sum()),
        caught=int((flagged & fraud).sum()),
    )
